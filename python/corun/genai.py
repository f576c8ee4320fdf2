"""Generative models with hailo_platform.genai's names: LLM and Speech2Text.

    from corun import VDevice
    from corun.genai import LLM
    with VDevice() as vdevice:
        llm = LLM(vdevice, "model.gguf")
        print(llm.generate_all(prompt="Hello", max_generated_tokens=32))
        with llm.generate(prompt=[{"role": "user", "content": "Hi"}]) as generation:
            for piece in generation:
                print(piece, end="")

corun runs GGUF language models (llama.cpp) and whisper.cpp speech models where HailoRT runs
HEFs; each generation is scheduled with the VDevice's other models (docs/GENAI.md).
"""

from ._corun.genai import (  # noqa: F401
    LLM,
    LLMGeneratorCompletion,
    Speech2Text,
    Speech2TextSegment,
    Speech2TextTask,
)

__all__ = ["LLM", "LLMGeneratorCompletion", "Speech2Text", "Speech2TextSegment", "Speech2TextTask"]
