"""Configuration of the PVCNN2 epsilon network, with the PCDiff paper and a CPU-tiny preset.

Channel counts and voxel resolutions are given at width/resolution multiplier 1 and scaled when
the network is built (``int(multiplier * value)``, as in the original code).
"""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hounsfield.models.pvcnn_blocks import GROUPS


class SAStageConfig(BaseModel):
    """One set-abstraction stage at width multiplier 1 (channels are scaled by the network config)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    conv_channels: int = Field(default=0, ge=0, description="PVConv output channels (0: no PVConv)")
    conv_blocks: int = Field(default=0, ge=0)
    voxel_resolution: int = Field(default=0, ge=0)
    attention: bool = Field(
        default=False, description="first PVConv uses 3-D self-attention instead of Swish+SE"
    )
    num_centers: int = Field(ge=1)
    radius: float = Field(gt=0)
    num_neighbors: int = Field(ge=1)
    mlp_channels: tuple[int, ...] = Field(min_length=1)


class FPStageConfig(BaseModel):
    """One feature-propagation stage at width multiplier 1."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mlp_channels: tuple[int, ...] = Field(min_length=1)
    conv_channels: int = Field(default=0, ge=0)
    conv_blocks: int = Field(default=0, ge=0)
    voxel_resolution: int = Field(default=0, ge=0)


class PVCNN2Config(BaseModel):
    """Hyper-parameters of :class:`PVCNN2`; use :meth:`paper` or :meth:`tiny` as starting points."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    extra_feature_channels: int = Field(default=0, ge=0, description="per-point input channels beyond xyz")
    out_channels: int = Field(default=3, ge=1)
    embed_dim: int = Field(default=64, ge=2, description="sinusoidal time-embedding width")
    width_multiplier: float = Field(default=1.0, gt=0)
    voxel_resolution_multiplier: float = Field(default=1.0, gt=0)
    dropout: float = Field(default=0.1, ge=0, lt=1, description="dropout inside every PVConv")
    head_channels: int = Field(default=128, ge=1)
    head_dropout: float = Field(default=0.5, ge=0, lt=1)
    voxel_attention: bool = Field(default=True, description="honour the stages' 3-D attention flags")
    global_attention: bool = Field(default=True, description="self-attention over the last SA centres")
    with_se: bool = True
    se_reduction: int = Field(default=8, ge=1, description="squeeze-excitation bottleneck ratio")
    sa_stages: tuple[SAStageConfig, ...] = Field(min_length=1)
    fp_stages: tuple[FPStageConfig, ...] = Field(min_length=1)

    def width(self, channels: int) -> int:
        """Channels after the width multiplier (truncated, as the original ``int(r * c)``)."""
        return int(self.width_multiplier * channels)

    def resolution(self, voxels: int) -> int:
        """Voxel resolution after the resolution multiplier."""
        return int(self.voxel_resolution_multiplier * voxels)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if len(self.sa_stages) != len(self.fp_stages):
            raise ValueError("need one FP stage per SA stage")
        widths = [self.head_channels]
        for sa in self.sa_stages:
            widths += [*sa.mlp_channels, *([sa.conv_channels] if sa.conv_blocks else [])]
            if sa.conv_blocks and self.resolution(sa.voxel_resolution) < 1:
                raise ValueError("every PVConv needs a voxel resolution >= 1 after scaling")
        for fp in self.fp_stages:
            widths += [*fp.mlp_channels, *([fp.conv_channels] if fp.conv_blocks else [])]
            if fp.conv_blocks and self.resolution(fp.voxel_resolution) < 1:
                raise ValueError("every PVConv needs a voxel resolution >= 1 after scaling")
        bad = sorted({w for w in widths if self.width(w) < GROUPS or self.width(w) % GROUPS})
        if bad:
            raise ValueError(
                f"width_multiplier {self.width_multiplier} gives channel counts that GroupNorm({GROUPS}) "
                f"cannot split for base widths {bad}"
            )
        return self

    @classmethod
    def paper(cls) -> "PVCNN2Config":
        """PCDiff's network for 30,720 points: 27.65 M parameters.

        The original declares 3 PVConv blocks for SA stages 2 and 3, but its builder only
        instantiates the first block of every stage after the first (an ``elif`` skips the
        others); the published 27.65 M parameters count that built network, so we list 1.
        """
        k = 128
        return cls(
            sa_stages=(
                SAStageConfig(
                    conv_channels=32,
                    conv_blocks=2,
                    voxel_resolution=32,
                    num_centers=10240,
                    radius=0.1,
                    num_neighbors=k,
                    mlp_channels=(32, 64),
                ),
                SAStageConfig(
                    conv_channels=64,
                    conv_blocks=1,
                    voxel_resolution=16,
                    attention=True,
                    num_centers=2560,
                    radius=0.2,
                    num_neighbors=k,
                    mlp_channels=(64, 128),
                ),
                SAStageConfig(
                    conv_channels=128,
                    conv_blocks=1,
                    voxel_resolution=8,
                    num_centers=640,
                    radius=0.4,
                    num_neighbors=k,
                    mlp_channels=(128, 256),
                ),
                SAStageConfig(num_centers=160, radius=0.8, num_neighbors=k, mlp_channels=(256, 256, 512)),
            ),
            fp_stages=(
                FPStageConfig(mlp_channels=(256, 256), conv_channels=256, conv_blocks=3, voxel_resolution=8),
                FPStageConfig(mlp_channels=(256, 256), conv_channels=256, conv_blocks=3, voxel_resolution=8),
                FPStageConfig(mlp_channels=(256, 128), conv_channels=128, conv_blocks=2, voxel_resolution=16),
                FPStageConfig(
                    mlp_channels=(128, 128, 64), conv_channels=64, conv_blocks=2, voxel_resolution=32
                ),
            ),
        )

    @classmethod
    def tiny(cls) -> "PVCNN2Config":
        """CPU-sized variant for ~2k points (e.g. 1,843 skull + 205 implant), same topology.

        Quarter width, half voxel resolution, 512/128/32/8 centres with 32 neighbours, one
        PVConv per FP stage, squeeze-excitation reduction 2 (at reduction 8 an 8-channel block
        has a single ReLU unit, which is often dead from the start). Radii are 4x the paper's:
        with 15x fewer points the mean spacing on a surface grows ~4x, and coordinates keep
        PCDiff's scale (about [-3, 3]).
        """
        k = 32
        return cls(
            embed_dim=32,
            width_multiplier=0.25,
            se_reduction=2,
            voxel_resolution_multiplier=0.5,
            sa_stages=(
                SAStageConfig(
                    conv_channels=32,
                    conv_blocks=2,
                    voxel_resolution=32,
                    num_centers=512,
                    radius=0.4,
                    num_neighbors=k,
                    mlp_channels=(32, 64),
                ),
                SAStageConfig(
                    conv_channels=64,
                    conv_blocks=1,
                    voxel_resolution=16,
                    attention=True,
                    num_centers=128,
                    radius=0.8,
                    num_neighbors=k,
                    mlp_channels=(64, 128),
                ),
                SAStageConfig(
                    conv_channels=128,
                    conv_blocks=1,
                    voxel_resolution=8,
                    num_centers=32,
                    radius=1.6,
                    num_neighbors=k,
                    mlp_channels=(128, 256),
                ),
                SAStageConfig(num_centers=8, radius=3.2, num_neighbors=k, mlp_channels=(256, 256, 512)),
            ),
            fp_stages=(
                FPStageConfig(mlp_channels=(256, 256), conv_channels=256, conv_blocks=1, voxel_resolution=8),
                FPStageConfig(mlp_channels=(256, 256), conv_channels=256, conv_blocks=1, voxel_resolution=8),
                FPStageConfig(mlp_channels=(256, 128), conv_channels=128, conv_blocks=1, voxel_resolution=16),
                FPStageConfig(
                    mlp_channels=(128, 128, 64), conv_channels=64, conv_blocks=1, voxel_resolution=32
                ),
            ),
        )
