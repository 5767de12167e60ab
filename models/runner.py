"""TFLite runner: loads a .tflite file with ai-edge-litert (tflite_runtime where only that exists), checks its
shape, and runs one uint8 image through it. It knows nothing of what the model detects.

The input contract: one [1, S, S, 3] tensor of RGB pixel values 0..255 (normalisation is inside the model);
float32 inputs get the pixel values as floats, quantised inputs get them quantised with the tensor's own
scale and zero point. Outputs are returned dequantised as float32.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


class ModelError(Exception):
    """A model file is missing, unreadable, or not of the shape its config says (zh-CN and en, like the
    appliance's own errors; `models` stands apart from the appliance)."""

    code = "model_invalid"

    def __init__(self, zh: str, en: str, *, code: str | None = None):
        super().__init__(en)
        self.zh = zh
        self.en = en
        if code:
            self.code = code

    def message(self, lang: str = "zh-CN") -> str:
        return self.en if lang.startswith("en") else self.zh

    def bilingual(self) -> str:
        return f"{self.zh} / {self.en}"


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter  # type: ignore[no-redef]
        except ImportError:
            raise ModelError("未安装 TFLite 运行库（ai-edge-litert）",
                             "no TFLite runtime installed (pip install ai-edge-litert)",
                             code="model_runtime_missing") from None
    return Interpreter


def _bad(path: Path, zh: str, en: str) -> ModelError:
    return ModelError(f"模型文件 {path}：{zh}", f"model file {path}: {en}")


class TFLiteRunner:
    """One interpreter on one model file; not thread-safe (one per vision process)."""

    def __init__(self, path: str | Path, num_threads: int = 1):
        self.path = Path(path)
        if not self.path.is_file():
            raise _bad(self.path, "文件不存在", "file not found")
        Interpreter = _interpreter_class()
        try:
            self.interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise _bad(self.path, f"不是可用的 TFLite 模型（{exc}）", f"not a usable TFLite model ({exc})") from None
        inputs = self.interpreter.get_input_details()
        if len(inputs) != 1:
            raise _bad(self.path, f"应有 1 个输入，实有 {len(inputs)} 个", f"expected 1 input, found {len(inputs)}")
        self.input = inputs[0]
        shape = tuple(int(d) for d in self.input["shape"])
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3 or shape[1] != shape[2]:
            raise _bad(self.path, f"输入形状 {list(shape)} 不是 [1, S, S, 3]",
                       f"input shape {list(shape)} is not [1, S, S, 3]")
        self.input_size = shape[1]
        self.outputs = self.interpreter.get_output_details()
        self.num_threads = num_threads

    @property
    def output_shapes(self) -> list[tuple[int, ...]]:
        return [tuple(int(d) for d in o["shape"]) for o in self.outputs]

    def _quantise(self, image: np.ndarray) -> np.ndarray:
        dtype = self.input["dtype"]
        if dtype == np.float32:
            return image.astype(np.float32)
        scale, zero = self.input["quantization"]
        if scale == 1.0 and zero == 0 and dtype == np.uint8:
            return image
        info = np.iinfo(dtype)
        q = np.round(image.astype(np.float32) / scale + zero)
        return np.clip(q, info.min, info.max).astype(dtype)

    def run(self, image: np.ndarray) -> list[np.ndarray]:
        """Run one S×S×3 uint8 image; every output, dequantised, without its batch axis."""
        if image.shape != (self.input_size, self.input_size, 3):
            raise ValueError(f"input must be {self.input_size}x{self.input_size}x3, got {image.shape}")
        self.interpreter.set_tensor(self.input["index"], self._quantise(image)[None])
        self.interpreter.invoke()
        out = []
        for o in self.outputs:
            t = self.interpreter.get_tensor(o["index"])[0]
            scale, zero = o["quantization"]
            if t.dtype != np.float32:
                t = (t.astype(np.float32) - zero) * (scale if scale else 1.0)
            out.append(t)
        return out

    def invoke_only(self) -> None:
        """Invoke on whatever input is set (the benchmark's baseline)."""
        self.interpreter.invoke()
