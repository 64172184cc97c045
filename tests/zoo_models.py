"""Small real architectures for test_zoo.py: random weights, small inputs, nothing downloads.

Each builder returns a ``ZooCase``: the module, how it is turned into TorchScript ("script", "trace" or "freeze":
scripted then ``torch.jit.freeze``), the inputs to trace with, and the calls to make, two shapes where the model
allows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Optional

import torch
from torch import Tensor, nn


@dataclasses.dataclass
class ZooCase:
    module: nn.Module
    mode: str  # "script" | "trace" | "freeze"
    calls: list[tuple[Any, ...]]  # positional inputs, one tuple per call shape
    trace_example: tuple[Any, ...] | None = None


def seeded(seed: int = 0) -> torch.Generator:
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


# --- torchvision -----------------------------------------------------------------------------------------------


def vit_small() -> ZooCase:
    from torchvision.models.vision_transformer import VisionTransformer

    seeded()
    model = VisionTransformer(32, 8, 2, 2, 16, 32, num_classes=4)
    nn.init.normal_(model.heads.head.weight)  # torchvision zeroes the head: the logits would all be 0
    return ZooCase(model, "script", [(torch.randn(1, 3, 32, 32),), (torch.randn(2, 3, 32, 32),)])


def vit_no_layers() -> ZooCase:
    """The issue's reproducer: a VisionTransformer with 0 encoder layers."""
    from torchvision.models.vision_transformer import VisionTransformer

    seeded(1)
    model = VisionTransformer(32, 8, 0, 1, 8, 8, num_classes=4)
    nn.init.normal_(model.heads.head.weight)
    return ZooCase(model, "script", [(torch.randn(1, 3, 32, 32),), (torch.randn(3, 3, 32, 32),)])


def swin_small() -> ZooCase:
    from torchvision.models.swin_transformer import SwinTransformer

    seeded(2)
    model = SwinTransformer(
        patch_size=[4, 4], embed_dim=16, depths=[1, 1], num_heads=[1, 2], window_size=[2, 2], num_classes=4
    )
    return ZooCase(model, "script", [(torch.randn(1, 3, 32, 32),), (torch.randn(2, 3, 32, 32),)])


class TinyBackbone(nn.Sequential):
    """Two strided convolutions: a real feature map (not the ~1e-8 features of an untrained MobileNet) for
    torchvision's detection heads, at a fraction of the cost."""

    def __init__(self) -> None:
        super().__init__(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1))
        self.out_channels = 16


def faster_rcnn_small() -> ZooCase:
    """torchvision's FasterRCNN (transform, RPN, RoIAlign, box head, NMS) on a tiny backbone, scripted."""
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.ops import MultiScaleRoIAlign

    seeded(3)
    model = FasterRCNN(
        TinyBackbone(),
        num_classes=3,
        min_size=64,
        max_size=96,
        rpn_anchor_generator=AnchorGenerator(((16, 32),), ((0.5, 1.0, 2.0),)),
        box_roi_pool=MultiScaleRoIAlign(["0"], 7, 2),
        rpn_pre_nms_top_n_test=50,
        rpn_post_nms_top_n_test=20,
        box_score_thresh=0.0,
        box_detections_per_img=8,
        representation_size=32,
    )
    # Spread the class scores, so that no two detections are near-ties whose order rounding could swap.
    nn.init.normal_(model.roi_heads.box_predictor.cls_score.weight, std=2.0)
    calls = [([torch.rand(3, 64, 80)],), ([torch.rand(3, 72, 56)],)]
    return ZooCase(model, "script", calls)


class VideoNet(nn.Module):
    """r3d_18 in miniature: torchvision's video stem pattern and BasicBlock (Conv3DSimple, in-place residual add)."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models.video.resnet import BasicBlock, Conv3DSimple

        self.stem = nn.Sequential(
            nn.Conv3d(3, 8, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
            nn.BatchNorm3d(8),
            nn.ReLU(inplace=True),
        )
        down = nn.Sequential(nn.Conv3d(8, 16, 1, stride=2, bias=False), nn.BatchNorm3d(16))
        self.layer1 = BasicBlock(8, 8, Conv3DSimple)
        self.layer2 = BasicBlock(8, 16, Conv3DSimple, stride=2, downsample=down)
        self.pool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(16, 4)
        for module in self.modules():
            if isinstance(module, nn.BatchNorm3d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)

    def forward(self, x: Tensor) -> Tensor:
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(self.pool(x).flatten(1))


def video_r3d_like() -> ZooCase:
    seeded(5)
    return ZooCase(VideoNet(), "script", [(torch.randn(1, 3, 4, 16, 16),), (torch.randn(2, 3, 4, 16, 16),)])


# --- torch.nn ----------------------------------------------------------------------------------------------------


class MaskedEncoder(nn.Module):
    """nn.TransformerEncoder with a key padding mask (True: padding), batch first."""

    def __init__(self) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(16, 3)

    def forward(self, x: Tensor, padding: Tensor) -> Tensor:
        return self.head(self.encoder(x, src_key_padding_mask=padding))


def padding_mask(batch: int, length: int, lengths: list[int]) -> Tensor:
    return torch.arange(length).expand(batch, length) >= torch.tensor(lengths).unsqueeze(1)


def transformer_encoder() -> ZooCase:
    seeded(6)
    calls = [
        (torch.randn(2, 5, 16), padding_mask(2, 5, [5, 3])),
        (torch.randn(3, 7, 16), padding_mask(3, 7, [7, 2, 5])),
    ]
    return ZooCase(MaskedEncoder(), "script", calls)


class Recurrent(nn.Module):
    """A 2-layer LSTM then a GRU, returning the logits and the LSTM's final (h, c)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, 16, num_layers=2, batch_first=True)
        self.gru = nn.GRU(16, 12, batch_first=True)
        self.fc = nn.Linear(12, 3)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        out, (h, c) = self.lstm(x)
        out, _ = self.gru(out)
        return self.fc(out[:, -1]), (h, c)


def lstm_gru() -> ZooCase:
    seeded(7)
    return ZooCase(Recurrent(), "script", [(torch.randn(1, 5, 8),), (torch.randn(3, 7, 8),)])


class OptionalMask(nn.Module):
    """The issue's reproducer R: an Optional tensor and a float default."""

    def forward(self, x: Tensor, mask: Optional[Tensor] = None, scale: float = 1.0) -> Tensor:
        if mask is None:
            return x.mean(1) * scale
        return (x * mask).sum(1) * scale


def optional_mask() -> ZooCase:
    seeded(8)
    calls = [(torch.randn(3, 6), torch.ones(3, 6)), (torch.randn(5, 6), (torch.rand(5, 6) > 0.5).float(), 2.0)]
    return ZooCase(OptionalMask(), "freeze", calls)


class Conv3dInplaceAdd(nn.Module):
    """The issue's reproducer: Conv3d without bias, then an in-place residual add."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(4, 4, 3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv(x)
        out += x
        return out


def conv3d_inplace_add() -> ZooCase:
    seeded(9)
    return ZooCase(Conv3dInplaceAdd(), "script", [(torch.randn(1, 4, 4, 8, 8),), (torch.randn(2, 4, 4, 8, 8),)])


class BoolMaskSum(nn.Module):
    """The issue's reproducer: relu(fc(x)) plus the count of a bool mask (oneDNN 'partition compile failed')."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 4)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        return torch.relu(self.fc(x)) + mask.sum()


def bool_mask_sum() -> ZooCase:
    seeded(10)
    calls = [(torch.randn(2, 6), torch.rand(2, 6) > 0.5), (torch.randn(5, 6), torch.rand(5, 6) > 0.5)]
    return ZooCase(BoolMaskSum(), "script", calls)


class LinearGeluTanh(nn.Module):
    """Linear then GELU with the tanh approximation (GPT-2's activation): oneDNN fusion computed the erf GELU."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16, 64)

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.gelu(self.fc(x), approximate="tanh")


def linear_gelu_tanh() -> ZooCase:
    seeded(14)
    return ZooCase(LinearGeluTanh(), "script", [(3 * torch.randn(2, 16),), (3 * torch.randn(5, 16),)])


# --- GPT-2 written out (no transformers needed): Hugging Face's GPT2Model layout, from a config dict ---------------

GPT2_CONFIG = {"vocab_size": 64, "n_positions": 32, "n_embd": 16, "n_layer": 2, "n_head": 2, "layer_norm_epsilon": 1e-5}


class GPT2Attention(nn.Module):
    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        embed, positions = config["n_embd"], config["n_positions"]
        self.n_head = config["n_head"]
        self.c_attn = nn.Linear(embed, 3 * embed)  # HF uses Conv1D (a transposed Linear): the same computation
        self.c_proj = nn.Linear(embed, embed)
        causal = torch.tril(torch.ones(positions, positions, dtype=torch.bool)).view(1, 1, positions, positions)
        self.register_buffer("bias", causal, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        batch, length, embed = x.shape
        q, k, v = self.c_attn(x).split(embed, dim=2)
        q, k, v = (t.view(batch, length, self.n_head, embed // self.n_head).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-1, -2) / float(embed // self.n_head) ** 0.5
        mask = self.bias[:, :, :length, :length]
        scores = torch.where(mask, scores, torch.tensor(torch.finfo(scores.dtype).min, dtype=scores.dtype))
        out = torch.softmax(scores, dim=-1) @ v
        return self.c_proj(out.transpose(1, 2).reshape(batch, length, embed))


class GPT2Block(nn.Module):
    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        embed, eps = config["n_embd"], config["layer_norm_epsilon"]
        self.ln_1 = nn.LayerNorm(embed, eps=eps)
        self.attn = GPT2Attention(config)
        self.ln_2 = nn.LayerNorm(embed, eps=eps)
        self.c_fc = nn.Linear(embed, 4 * embed)
        self.c_proj = nn.Linear(4 * embed, embed)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.c_proj(nn.functional.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT2(nn.Module):
    """Token and position embeddings, pre-norm blocks with causal self-attention, final LayerNorm, tied LM head."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.wte = nn.Embedding(config["vocab_size"], config["n_embd"])
        self.wpe = nn.Embedding(config["n_positions"], config["n_embd"])
        self.h = nn.ModuleList(GPT2Block(config) for _ in range(config["n_layer"]))
        self.ln_f = nn.LayerNorm(config["n_embd"], eps=config["layer_norm_epsilon"])

    def forward(self, input_ids: Tensor) -> tuple[Tensor, Tensor]:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = self.wte(input_ids) + self.wpe(positions)
        for block in self.h:
            x = block(x)
        hidden = self.ln_f(x)
        return hidden, hidden @ self.wte.weight.t()


def gpt2_handwritten() -> ZooCase:
    seeded(13)
    model = GPT2(GPT2_CONFIG)
    calls = [(torch.randint(0, 64, (1, 8)),), (torch.randint(0, 64, (2, 5)),)]
    return ZooCase(model, "trace", calls, trace_example=(torch.randint(0, 64, (2, 8)),))


# --- Hugging Face (from configs, random weights) ----------------------------------------------------------------


class HFLastHidden(nn.Module):
    """A transformers model called as a tracer needs it: positional tensors in, a tuple of tensors out."""

    def __init__(self, model: nn.Module, with_mask: bool) -> None:
        super().__init__()
        self.model = model
        self.with_mask = with_mask

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> tuple[Tensor, ...]:
        if self.with_mask:
            return self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, return_dict=False)
        return self.model(input_ids=input_ids, use_cache=False, return_dict=False)


def gpt2_small() -> ZooCase:
    import transformers

    seeded(11)
    config = transformers.GPT2Config(
        vocab_size=64,
        n_positions=32,
        n_embd=16,
        n_layer=2,
        n_head=2,
        bos_token_id=0,
        eos_token_id=0,
        attn_implementation="eager",
    )
    model = HFLastHidden(transformers.GPT2Model(config), with_mask=False)
    calls = [(torch.randint(0, 64, (1, 8)),), (torch.randint(0, 64, (2, 5)),)]
    return ZooCase(model, "trace", calls, trace_example=(torch.randint(0, 64, (2, 8)),))


def bert_small() -> ZooCase:
    import transformers

    seeded(12)
    config = transformers.BertConfig(
        vocab_size=64,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        attn_implementation="eager",
    )
    model = HFLastHidden(transformers.BertModel(config), with_mask=True)

    def mask(lengths: list[int], length: int) -> Tensor:
        return (torch.arange(length).expand(len(lengths), length) < torch.tensor(lengths).unsqueeze(1)).long()

    calls = [
        (torch.randint(0, 64, (2, 8)), mask([8, 5], 8)),
        (torch.randint(0, 64, (3, 6)), mask([6, 2, 4], 6)),
    ]
    return ZooCase(model, "trace", calls, trace_example=calls[0])


ZOO: dict[str, Callable[[], ZooCase]] = {
    "vit": vit_small,
    "vit_no_layers": vit_no_layers,
    "swin": swin_small,
    "faster_rcnn": faster_rcnn_small,
    "video_r3d_like": video_r3d_like,
    "transformer_encoder_mask": transformer_encoder,
    "lstm_gru": lstm_gru,
    "optional_mask": optional_mask,
    "conv3d_inplace_add": conv3d_inplace_add,
    "bool_mask_sum": bool_mask_sum,
    "linear_gelu_tanh": linear_gelu_tanh,
    "gpt2_handwritten": gpt2_handwritten,
    "gpt2": gpt2_small,
    "bert": bert_small,
}
NEEDS_TRANSFORMERS = {"gpt2", "bert"}
