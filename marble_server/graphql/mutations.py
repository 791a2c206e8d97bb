"""Mutation root: create and delete brains, train, infer, neuromodulation, job control.

Scopes: ``infer`` for inference; ``train`` to create brains, train, change
neuromodulation and cancel or resume jobs; ``admin`` to delete a brain or
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
from marble_server.graphql.errors import engine_errors
from marble_server.graphql.results import (
    BackupResult,
    InferenceResult,
    Job,
    Neuromodulation,
    NeuromodulationMode,
)
from marble_server.graphql.types import Brain, Info


@strawberry.type
class Mutation:
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

    @strawberry.mutation(description="Queue a training job; watch it with jobProgress.")
    async def train(self, info: Info, brain: str, dataset: str, epochs: int | None = None) -> Job:
        ctx = info.context
        ctx.require(Scope.TRAIN)
        ctx.require_brain(brain)
        view = await ctx.engine(ctx.state.jobs.submit_train, brain, dataset, epochs)
        return Job.from_view(view)

    @strawberry.mutation(
        description="Outputs for rows of features [rows, inputs], from the current version "
        "(or exactly `version`, which must be the current one)."
    )
    async def infer(
        self,
        info: Info,
        brain: str,
        inputs: list[list[float]],
        version: int | None = None,
    ) -> InferenceResult:
        ctx = info.context
        ctx.require(Scope.INFER)
        ctx.require_brain(brain)
        with engine_errors():  # ragged rows are the batcher's ValidationFailed, as on REST
            answer = await ctx.state.batcher.infer(brain, inputs, version)
        return InferenceResult.from_inference(answer)

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
