"""Multi-node attempts on the worker side: torchrun's c10d command line, node ranks that follow the
scheduler's (two real launchers on loopback), the rendezvous-port preflight and the settings."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from nats.aio.client import Client

from hounsfield.contracts.models import Assignment, NodePlacement, RendezvousPorts, WorkerHeartbeat
from hounsfield.contracts.subjects import worker_heartbeat_subject
from hounsfield.worker.preflight import RendezvousPortBusyError, check_rendezvous_port
from hounsfield.worker.settings import SettingsError, load_settings, parse_port_range
from hounsfield.worker.trainer_launch import RENDEZVOUS_READ_TIMEOUT_SECONDS, launch_command
from worker.agents import StartAgent
from worker.assignments import make_assignment
from worker.event_recorder import EventRecorder


def _node(assignment: Assignment, rank: int, port: int, nnodes: int = 2) -> Assignment:
    placement = NodePlacement(
        nodeRank=rank, nnodes=nnodes, rdzvHost="127.0.0.1", rdzvPort=port, rdzvId="job-1"
    )
    return assignment.model_copy(update={"node": placement})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_a_node_joins_the_c10d_rendezvous_instead_of_standalone() -> None:
    assignment = _node(make_assignment("w", module="my_lab.train", nproc=4), rank=1, port=29411, nnodes=3)
    assert launch_command(assignment, python="/py", local_address="10.0.0.2") == [
        "/py",
        "-m",
        "hounsfield.worker.launcher",
        "--nnodes=3",
        "--node_rank=1",
        "--rdzv_backend=c10d",
        "--rdzv_endpoint=127.0.0.1:29411",
        "--rdzv_id=job-1",
        f"--rdzv_conf=is_host=false,read_timeout={RENDEZVOUS_READ_TIMEOUT_SECONDS}",
        "--local_addr=10.0.0.2",
        "--nproc_per_node=4",
        "-m",
        "my_lab.train",
    ]
    host = launch_command(_node(make_assignment("w"), rank=0, port=29411), python="/py")
    assert "--rdzv_conf=is_host=true,read_timeout=300" in host and "--standalone" not in host
    assert "--standalone" in launch_command(make_assignment("w"), python="/py")


RANK_PROBE = """
import json, os, sys
import torch
import torch.distributed as dist
dist.init_process_group("gloo")
total = torch.tensor([float(dist.get_rank() + 1)])
dist.all_reduce(total)
keys = ("RANK", "WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR")
record = {key: os.environ[key] for key in keys}
record["sum"] = total.item()
with open(os.path.join(sys.argv[1], f"node-{os.environ['HF_TEST_NODE']}.json"), "w") as out:
    json.dump(record, out)
dist.destroy_process_group()
"""


@pytest.mark.timeout(180)
def test_two_launchers_on_loopback_get_the_schedulers_node_ranks(tmp_path: Path) -> None:
    (tmp_path / "rank_probe.py").write_text(RANK_PROBE)
    port = _free_port()
    base = make_assignment("w", module="rank_probe", nproc=1)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env["CUDA_VISIBLE_DEVICES"] = ""
    processes = []
    # Node 1 starts first, so it has the lower pid: torchrun's own order (address, pid) would
    # make it rank 0.
    for rank in (1, 0):
        command = launch_command(_node(base, rank, port), local_address="127.0.0.1")
        processes.append(
            subprocess.Popen(
                [*command, str(tmp_path)],
                env={**env, "HF_TEST_NODE": str(rank)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
        time.sleep(1.0)
    outputs = [process.communicate(timeout=150)[0].decode(errors="replace") for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    seen = {rank: json.loads((tmp_path / f"node-{rank}.json").read_text()) for rank in (0, 1)}
    for rank in (0, 1):
        # Global rank = node rank here (one process per node); the gloo sum is 1 + 2 on both.
        expected = {"RANK": str(rank), "WORLD_SIZE": "2", "GROUP_RANK": str(rank), "MASTER_ADDR": "127.0.0.1"}
        assert seen[rank] == {**expected, "sum": 3.0}


def test_preflight_refuses_a_rendezvous_port_in_use() -> None:
    with socket.socket() as holder:
        holder.bind(("", 0))
        holder.listen()
        port = holder.getsockname()[1]
        busy = f"rendezvous port {port} is not free.*HOUNSFIELD_RENDEZVOUS_PORTS"
        with pytest.raises(RendezvousPortBusyError, match=busy):
            check_rendezvous_port(port)
    check_rendezvous_port(_free_port())


def test_settings_advertise_address_ports_and_topology(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOUNSFIELD_WORKER_ADDRESS", "10.1.2.3")
    monkeypatch.setenv("HOUNSFIELD_RENDEZVOUS_PORTS", "30000-30009")
    monkeypatch.setenv("HOUNSFIELD_TOPOLOGY", "rack-7")
    settings = load_settings()
    assert (settings.advertised_address, settings.rendezvous_port_range, settings.topology) == (
        "10.1.2.3",
        (30000, 30009),
        "rack-7",
    )
    monkeypatch.delenv("HOUNSFIELD_WORKER_ADDRESS")
    assert load_settings().advertised_address  # the host's own address, found at boot
    assert parse_port_range("29400") == (29400, 29400)
    monkeypatch.setenv("HOUNSFIELD_RENDEZVOUS_PORTS", "30010-30000")
    with pytest.raises(SettingsError, match="HOUNSFIELD_RENDEZVOUS_PORTS: .*first <= last"):
        load_settings()


async def test_heartbeats_advertise_the_address_rendezvous_ports_and_topology(
    start_agent: StartAgent, nc: Client, worker_id: str
) -> None:
    recorder = await EventRecorder.subscribe(nc, worker_heartbeat_subject(worker_id))
    await start_agent(worker_address="10.9.8.7", rendezvous_ports="31000-31009", topology="rack-3")
    heartbeat = (await recorder.wait_for(lambda events: len(events) >= 1, timeout=20))[-1]
    assert isinstance(heartbeat, WorkerHeartbeat)
    assert (heartbeat.address, heartbeat.rendezvousPorts, heartbeat.topology) == (
        "10.9.8.7",
        RendezvousPorts(first=31000, last=31009),
        "rack-3",
    )
