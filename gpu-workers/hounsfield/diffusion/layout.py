"""Where the conditioning skull and the generated implant sit in a PCDiff point cloud.

A sample is one cloud ``(B, 3, N)`` with ``N = n_skull + n_implant``: the FIRST ``n_skull``
points are the defective skull (the condition) and the LAST ``n_implant`` points the implant.
Only the implant points are diffused; the skull points stay clean in every x_t, in training and
in sampling, and the network sees the whole cloud.
"""

from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor


class ImplantLayout(BaseModel):
    """Point counts of the skull (first) and implant (last) parts of a cloud."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_skull: int = Field(ge=1)
    n_implant: int = Field(ge=1)

    @property
    def n_points(self) -> int:
        """Total points per cloud."""
        return self.n_skull + self.n_implant

    @classmethod
    def paper(cls) -> "ImplantLayout":
        """PCDiff: 27,648 skull + 3,072 implant = 30,720 points."""
        return cls(n_skull=27_648, n_implant=3_072)

    @classmethod
    def tiny(cls) -> "ImplantLayout":
        """CPU-sized cloud with the paper's 9:1 ratio: 1,843 skull + 205 implant = 2,048 points."""
        return cls(n_skull=1_843, n_implant=205)

    def split(self, cloud: Tensor) -> tuple[Tensor, Tensor]:
        """``(skull, implant)`` views of a ``(B, C, n_points)`` cloud."""
        if cloud.shape[-1] != self.n_points:
            raise ValueError(f"expected {self.n_points} points, got {cloud.shape[-1]}")
        return cloud[..., : self.n_skull], cloud[..., self.n_skull :]
