"""Tests for ``core.threads``: usable cores from affinity and cgroup files, slots, the key."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from marble_graph.config import parse_config_text
from marble_graph.errors import ConfigError
from marble_graph.threads import (
    CoreShare,
    cgroup_cpu_limit,
    parse_cfs_quota,
    parse_cpu_max,
    threads_for,
    usable_cpus,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [("max 100000\n", None), ("150000 100000\n", 1.5), ("200000 50000", 4.0), ("max", None)],
)
def test_parse_cpu_max_reads_quota_over_period(text: str, expected: float | None) -> None:
    assert parse_cpu_max(text) == expected


def test_parse_cfs_quota_minus_one_means_unlimited() -> None:
    assert parse_cfs_quota("-1\n", "100000\n") is None
    assert parse_cfs_quota("250000\n", "100000\n") == 2.5


def test_cgroup_v2_takes_the_tightest_quota_of_the_cgroup_and_its_ancestors(
    tmp_path: Path,
) -> None:
    root = tmp_path / "cgroup"
    write(root / "cpu.max", "max 100000\n")
    write(root / "jobs" / "cpu.max", "150000 100000\n")
    write(root / "jobs" / "marble" / "cpu.max", "300000 100000\n")
    proc = write(tmp_path / "proc-cgroup", "0::/jobs/marble\n")
    assert cgroup_cpu_limit(root, proc) == 1.5


def test_cgroup_v1_reads_the_cpu_controller_quota(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    write(root / "cpu,cpuacct" / "cpu.cfs_quota_us", "-1\n")
    write(root / "cpu,cpuacct" / "cpu.cfs_period_us", "100000\n")
    write(root / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_quota_us", "200000\n")
    write(root / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_period_us", "100000\n")
    proc = write(
        tmp_path / "proc-cgroup",
        "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n",
    )
    assert cgroup_cpu_limit(root, proc) == 2.0


def test_cgroup_path_missing_under_the_mount_falls_back_to_the_mount_root(
    tmp_path: Path,
) -> None:
    # Inside a container /proc names the host's path; the mount root is the container's cgroup.
    root = tmp_path / "cgroup"
    write(root / "cpu.max", "100000 100000\n")
    proc = write(tmp_path / "proc-cgroup", "0::/kubepods/pod1/container\n")
    assert cgroup_cpu_limit(root, proc) == 1.0


def test_no_cgroup_files_means_no_limit(tmp_path: Path) -> None:
    proc = write(tmp_path / "proc-cgroup", "0::/\n")
    assert cgroup_cpu_limit(tmp_path / "absent", proc) is None


def test_usable_cpus_caps_the_affinity_by_the_quota_rounding_up(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    write(root / "cpu.max", "150000 100000\n")
    proc = write(tmp_path / "proc-cgroup", "0::/\n")
    assert usable_cpus({0, 1, 2, 3}, root, proc) == 2
    assert usable_cpus({5}, root, proc) == 1


def test_usable_cpus_without_a_quota_is_the_affinity_size(tmp_path: Path) -> None:
    proc = write(tmp_path / "proc-cgroup", "0::/\n")
    assert usable_cpus({0, 2, 4}, tmp_path / "absent", proc) == 3


@pytest.mark.parametrize(
    ("setting", "cpus", "sharing", "expected"),
    [(3, 8, 4, 3), ("auto", 4, 1, 4), (0, 4, 2, 2), ("auto", 2, 3, 1), ("auto", 1, 1, 1)],
)
def test_threads_for_divides_the_cores_only_when_auto(
    setting: int | str, cpus: int, sharing: int, expected: int
) -> None:
    assert threads_for(setting, cpus, sharing) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("setting", "cpus", "sharing", "expected"),
    [("auto", 2, 1, 1), ("auto", 8, 1, 7), ("auto", 8, 2, 3), ("auto", 1, 1, 1), (4, 8, 1, 4)],
)
def test_a_spare_core_comes_off_the_auto_share_only(
    setting: int | str, cpus: int, sharing: int, expected: int
) -> None:
    # A server keeps one core of its share for its event loop; an explicit count is kept.
    assert threads_for(setting, cpus, sharing, spare=1) == expected  # type: ignore[arg-type]


def test_two_slot_holders_each_get_half_the_cores_and_the_survivor_all(tmp_path: Path) -> None:
    # flock locks belong to an open file, so two shares in one process exclude each other
    # exactly as two processes would.
    first = CoreShare("auto", 4, tmp_path / "slots")
    second = CoreShare("auto", 4, tmp_path / "slots")
    first.acquire()
    assert first.wanted_threads() == 4
    second.acquire()
    try:
        assert first.holders() == 2 and second.holders() == 2
        assert first.wanted_threads() == 2
    finally:
        second.release()
    assert first.holders() == 1
    assert first.wanted_threads() == 4
    first.release()


def test_a_slot_held_by_another_process_is_counted(tmp_path: Path) -> None:
    slots = tmp_path / "slots"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys
                from pathlib import Path
                from marble_graph.threads import CoreShare
                share = CoreShare("auto", 2, Path({str(slots)!r}))
                share.acquire()
                print("held", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        share = CoreShare("auto", 2, slots)
        share.acquire()
        assert share.holders() == 2
        assert share.wanted_threads() == 1
        share.release()
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)
    # The holder exited: the kernel dropped its lock, no stale slot remains.
    assert CoreShare("auto", 2, slots).holders() == 1


def test_an_explicit_thread_count_ignores_other_holders(tmp_path: Path) -> None:
    other = CoreShare("auto", 4, tmp_path / "slots")
    other.acquire()
    try:
        fixed = CoreShare(3, 4, tmp_path / "slots")
        assert fixed.wanted_threads() == 3
    finally:
        other.release()


def test_unusable_slot_directory_means_no_sharing(tmp_path: Path) -> None:
    not_a_dir = write(tmp_path / "file", "")
    share = CoreShare("auto", 2, not_a_dir)
    share.acquire()
    assert share.holders() == 1
    assert share.wanted_threads() == 2


@pytest.mark.parametrize(("text", "expected"), [("auto", "auto"), ("0", 0), ("8", 8)])
def test_core_threads_accepts_auto_zero_and_a_count(text: str, expected: object) -> None:
    assert parse_config_text(f"core:\n  threads: {text}\n", "t.yaml").core.threads == expected


def test_core_threads_defaults_to_auto() -> None:
    assert parse_config_text("", "t.yaml").core.threads == "auto"


@pytest.mark.parametrize("text", ["-1", "2000", "many", "'4'", "1.5", "true"])
def test_core_threads_rejects_anything_else_naming_the_key(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config_text(f"core:\n  threads: {text}\n", "t.yaml")
    message = str(caught.value)
    assert "t.yaml:2: core.threads:" in message
    assert "is not a thread count: use 'auto', 0 (the same) or 1 to 1024" in message
    assert message.count("\n") == 0


def run_fresh(code: str) -> list[str]:
    """Run ``code`` in a new interpreter (torch's pools are sized once per process)."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return done.stdout.split()


def test_share_cores_sets_an_explicit_count_on_both_torch_pools(tmp_path: Path) -> None:
    out = run_fresh(
        f"""
        from pathlib import Path
        import torch
        from marble_graph.threads import share_cores
        share_cores(1, Path({str(tmp_path / "slots")!r}))
        print(torch.get_num_threads(), torch.get_num_interop_threads())
        """
    )
    assert out == ["1", "1"]


def test_share_cores_auto_halves_the_cores_while_another_process_holds_a_slot(
    tmp_path: Path,
) -> None:
    slots = tmp_path / "slots"
    other = CoreShare("auto", 2, slots)
    other.acquire()
    try:
        out = run_fresh(
            f"""
            from pathlib import Path
            import torch
            from marble_graph.threads import share_cores, usable_cpus
            share = share_cores("auto", Path({str(slots)!r}))
            print(torch.get_num_threads(), max(1, usable_cpus() // 2), share.holders())
            """
        )
    finally:
        other.release()
    threads, expected, holders = out
    assert threads == expected
    assert holders == "2"
