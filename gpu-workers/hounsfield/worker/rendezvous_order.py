"""Node ranks that follow the scheduler's choice under torchrun's c10d rendezvous.

torchrun's dynamic (c10d) rendezvous numbers the nodes by sorting their descriptors (address,
process id, counter), and ignores ``--node-rank``, which only the static backend honours. The
platform, though, names node 0 itself: it hosts the rendezvous, and the job record lists which
global ranks run on which worker. The launcher therefore runs torchrun (in its own process) with
descriptors that sort by the node rank first, so the rendezvous assigns group rank R to the node
the scheduler called R, on every host, whatever the addresses and process ids.

The descriptors travel pickled inside the rendezvous state; every node runs this same launcher, so
each can read the others'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch.distributed.elastic.rendezvous import dynamic_rendezvous as dr


@dataclass(eq=True, order=False, frozen=True)
class RankedNodeDesc(dr._NodeDesc):
    """A node descriptor that sorts by the platform's node rank, then as torchrun's own."""

    node_rank: int = 0

    def _key(self) -> tuple[int, str, int, int]:
        return (self.node_rank, self.addr, self.pid, self.local_id)

    def __lt__(self, other: Any) -> bool:
        if not isinstance(other, RankedNodeDesc):
            return NotImplemented
        return self._key() < other._key()

    def __le__(self, other: Any) -> bool:
        if not isinstance(other, RankedNodeDesc):
            return NotImplemented
        return self._key() <= other._key()

    def __gt__(self, other: Any) -> bool:
        if not isinstance(other, RankedNodeDesc):
            return NotImplemented
        return self._key() > other._key()

    def __ge__(self, other: Any) -> bool:
        if not isinstance(other, RankedNodeDesc):
            return NotImplemented
        return self._key() >= other._key()

    def __repr__(self) -> str:
        return f"{self.addr}_{self.pid}_{self.local_id}_node{self.node_rank}"


class _RankedGenerator(dr._NodeDescGenerator):
    def __init__(self, node_rank: int) -> None:
        super().__init__()
        self._node_rank = node_rank

    def generate(self, local_addr: str | None = None) -> dr._NodeDesc:
        plain = super().generate(local_addr)
        return RankedNodeDesc(plain.addr, plain.pid, plain.local_id, self._node_rank)


def follow_node_rank(node_rank: int) -> None:
    """Makes this process's c10d rendezvous join as node ``node_rank`` (call before torchrun runs)."""
    if node_rank < 0:
        raise ValueError(f"node rank must be 0 or more, got {node_rank}")
    dr.DynamicRendezvousHandler._node_desc_generator = _RankedGenerator(node_rank)
