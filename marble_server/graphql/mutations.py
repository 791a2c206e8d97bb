"""Mutation root: create and delete brains, train, infer, neuromodulation, job control, and
tags and reverts of stored datasets.

Scopes: ``infer`` for inference; ``train`` to create brains, train, dream, change
neuromodulation, cancel or resume jobs, and tag or revert datasets; ``admin`` to delete a brain or
back up the data home. A token limited to named brains meets other brains
and their jobs as NOT_FOUND, like unknown ones, and may create only brains of
its list.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

import strawberry

from marble_graph.tokens import Scope
from marble_server import brain_writes
from marble_server.graphql.dataset_types import DatasetVersion
from marble_server.graphql.errors import engine_errors
from marble_server.graphql.memory_types import MemoryMutations
from marble_server.graphql.results import (
    BackupResult,
    InferenceResult,
    Job,
    Neuromodulation,
    NeuromodulationMode,
)
from marble_server.graphql.types import Brain, BrainVersion, Info
from marble_server.graphql.version_types import VersionRef, served_version


@strawberry.type
class Mutation(MemoryMutations):
    @strawberry.mutation(
        description="Seed a new brain from the server's config; with a dataset, from the "
        "preset of its task, sized to the dataset (like `marble brain create --dataset`)."
    )
    async def create_brain(
        self,
        info: Info,
        name: str,
        dataset: str | None = None,
        seed: Annotated[
            int | None, strawberry.argument(description="Override seed.random_seed.")
        ] = None,
    ) -> Brain:
        ctx = info.context
        ctx.require(Scope.TRAIN)
        ctx.require_brain(name, creating=True)
        created = await ctx.engine(brain_writes.create_brain, ctx.state, name, dataset, seed)
        ctx.forget_brain(name)
        return Brain.from_info(created)

    @strawberry.mutation(description="Delete a brain from both stores (refused while it trains).")
    async def delete_brain(self, info: Info, name: str) -> bool:
        ctx = info.context
        ctx.require(Scope.ADMIN)
        ctx.require_brain(name)
        await ctx.engine(brain_writes.delete_brain, ctx.state, name)
        ctx.forget_brain(name)
        return True

    @strawberry.mutation(
        description="Queue a training job; watch it with jobProgress. `dataset` is a built-in "
        "dataset or a stored NAME (its latest version, pinned now), NAME@VERSION or NAME@TAG."
    )
    async def train(self, info: Info, brain: str, dataset: str, epochs: int | None = None) -> Job:
        ctx = info.context
        ctx.require(Scope.TRAIN)
        ctx.require_brain(brain)
        view = await ctx.engine(ctx.state.jobs.submit_train, brain, dataset, epochs)
        return Job.from_view(view)

    @strawberry.mutation(
        description="Queue a dream: replay `cycles` batches (1..100000; default the brain's "
        "dreams.cycles) of its recorded experiences, sampled by salience, then commit a new "
        "version; watch it with jobProgress. A cancelled dream writes nothing. CONFLICT when "
        "the brain recorded no experiences."
    )
    async def dream(self, info: Info, brain: str, cycles: int | None = None) -> Job:
        ctx = info.context
        ctx.require(Scope.TRAIN)
        ctx.require_brain(brain)
        view = await ctx.engine(ctx.state.jobs.submit_dream, brain, cycles)
        return Job.from_view(view)

    @strawberry.mutation(
        description="Outputs for rows of features [rows, inputs], from the current version, "
        "or exactly `version` (a number) or the version `tag` names, while retention keeps it."
    )
    async def infer(
        self,
        info: Info,
        brain: str,
        inputs: list[list[float]],
        version: int | None = None,
        tag: Annotated[
            str | None, strawberry.argument(description="Serve the version this tag names.")
        ] = None,
    ) -> InferenceResult:
        ctx = info.context
        ctx.require(Scope.INFER)
        ctx.require_brain(brain)
        pinned = served_version(version, tag)
        with engine_errors():  # ragged rows are the batcher's ValidationFailed, as on REST
            answer = await ctx.state.batcher.infer(brain, inputs, pinned)
        return InferenceResult.from_inference(answer)

    @strawberry.mutation(
        description="Name a version of a brain by a tag; retention never collects a tagged "
        "version. CONFLICT when the brain already uses the tag (naming its version)."
    )
    async def tag_version(
        self,
        info: Info,
        brain: str,
        version: VersionRef,
        tag: str,
    ) -> BrainVersion:
        ctx = info.context
        ctx.require(Scope.TRAIN)
        ctx.require_brain(brain)
        record = await ctx.engine(ctx.state.service.tag_version, brain, version, tag)
        return BrainVersion.from_record(record, brain)

    @strawberry.mutation(description="Remove a brain's tag; returns the version it named.")
    async def untag_version(self, info: Info, brain: str, tag: str) -> BrainVersion:
        ctx = info.context
        ctx.require(Scope.TRAIN)
        ctx.require_brain(brain)
        record = await ctx.engine(ctx.state.service.untag_version, brain, tag)
        return BrainVersion.from_record(record, brain)

    @strawberry.mutation(
        description="Make an earlier version (number or tag) current again, as a new version "
        "identical to it bit for bit; refused (CONFLICT) while a training job works on the "
        "brain. Returns the brain."
    )
    async def rollback_brain(
        self,
        info: Info,
        brain: str,
        version: VersionRef,
    ) -> Brain:
        ctx = info.context
        ctx.require(Scope.TRAIN)
        ctx.require_brain(brain)
        info_after = await ctx.engine(brain_writes.rollback_brain, ctx.state, brain, version)
        ctx.forget_brain(brain)
        return Brain.from_info(info_after)

    @strawberry.mutation(
        description="Set neuromodulation signals for the brain's next training run; setting "
        "a signal switches mode to MANUAL unless mode is given."
    )
    async def set_neuromodulation(
        self,
        info: Info,
        brain: str,
        mode: NeuromodulationMode | None = None,
        reward: float | None = None,
        stress: float | None = None,
        arousal: float | None = None,
        emotion: str | None = None,
    ) -> Neuromodulation:
        ctx = info.context
        ctx.require(Scope.TRAIN)
        ctx.require_brain(brain)
        change = partial(
            ctx.state.service.set_neuromodulation,
            brain,
            mode=None if mode is None else mode.value,
            reward=reward,
            stress=stress,
            arousal=arousal,
            emotion=emotion,
        )
        return Neuromodulation.from_section(await ctx.engine(change))

    @strawberry.mutation(description="Cancel a queued job now, a running one at its next step.")
    async def cancel_job(self, info: Info, id: strawberry.ID) -> Job:
        ctx = info.context
        ctx.require(Scope.TRAIN)
        ctx.require_job(await ctx.engine(ctx.state.jobs.get, str(id)))
        return Job.from_view(await ctx.engine(ctx.state.jobs.cancel, str(id)))

    @strawberry.mutation(
        description="Continue an interrupted or cancelled job from its last checkpoint (a new job)."
    )
    async def resume_job(self, info: Info, id: strawberry.ID) -> Job:
        ctx = info.context
        ctx.require(Scope.TRAIN)
        ctx.require_job(await ctx.engine(ctx.state.jobs.get, str(id)))
        return Job.from_view(await ctx.engine(ctx.state.jobs.resume, str(id)))

    @strawberry.mutation(
        description="Rebuild a damaged brain's current version from its snapshot "
        "(a no-op when intact); returns the brain."
    )
    async def repair_brain(self, info: Info, name: str) -> Brain:
        ctx = info.context
        ctx.require(Scope.ADMIN)
        ctx.require_brain(name)
        service = ctx.state.service
        await ctx.engine(service.repair_brain, name)
        ctx.forget_brain(name)
        return Brain.from_info(await ctx.engine(service.get_brain, name))

    @strawberry.mutation(
        description="Copy the data home, as one consistent state, to <home>/backups/"
        "<destination> (a name, never a path); training's final write-back waits meanwhile."
    )
    async def backup(self, info: Info, destination: str) -> BackupResult:
        ctx = info.context
        ctx.require(Scope.ADMIN)
        ctx.require_unlimited("a backup copies every brain")
        service = ctx.state.service
        manifest = await ctx.engine(service.backup_into_home, destination)
        return BackupResult.from_summary(manifest.summary(service.home.root))

    # -- datasets ---------------------------------------------------------------------

    @strawberry.mutation(
        description="Name a dataset version with a tag; a tag in use is a CONFLICT naming "
        "the version it names."
    )
    async def tag_dataset(self, info: Info, name: str, ref: str, tag: str) -> DatasetVersion:
        ctx = info.context
        ctx.require(Scope.TRAIN)
        tagged = await ctx.engine(ctx.state.service.tag_dataset, name, ref, tag)
        return DatasetVersion.from_info(tagged)

    @strawberry.mutation(description="Remove a dataset's tag (the version stays).")
    async def untag_dataset(self, info: Info, name: str, tag: str) -> bool:
        ctx = info.context
        ctx.require(Scope.TRAIN)
        await ctx.engine(ctx.state.service.untag_dataset, name, tag)
        return True

    @strawberry.mutation(
        description="A new dataset version that undoes version `ref`'s change to its parent "
        "(the latest version when the rows equal it)."
    )
    async def revert_dataset(
        self, info: Info, name: str, ref: str, note: str | None = None
    ) -> DatasetVersion:
        ctx = info.context
        ctx.require(Scope.TRAIN)
        reverted, _ = await ctx.engine(ctx.state.service.revert_dataset, name, ref, note)
        return DatasetVersion.from_info(reverted)
