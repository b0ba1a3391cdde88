#!/usr/bin/python3
# Golden outputs for sinan's chat templates, rendered by the real Jinja2.
#
# Regenerate (Debian's python3-jinja2 3.1.2, NOT the pyenv python3 on PATH):
#   /usr/bin/python3 scripts/gen-chat-template-golden.py ../shared/data/chat-templates \
#       tests/data/chat-templates/conversations.json > tests/data/chat-templates/golden.json
#
# The environment mirrors Hugging Face's apply_chat_template: ImmutableSandboxedEnvironment with
# trim_blocks, lstrip_blocks and the loopcontrols extension, HF's tojson override (json.dumps,
# ensure_ascii=False, keeps key order), raise_exception and strftime_now. strftime_now formats a
# fixed instant (kFixedNow below, interpreted as UTC) so the output is deterministic; the C++ tests
# pass the same instant through ChatTemplate's RenderOptions::now_unix.
#
# Context per render: messages, add_generation_prompt, bos_token, eos_token, plus the conversation's
# "tools" (only when it has them; HF passes tools=None, which some tool-use templates cannot iterate)
# and its "extra" variables. bos/eos are chosen per template family (kSpecialTokens) and recorded in
# each golden case so the test does not need this table.
import datetime
import json
import os
import sys

import jinja2
import jinja2.ext
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

kFixedNow = 1768473000  # 2026-01-15 10:30:00 UTC

kSpecialTokens = [  # (file name prefix, bos, eos)
    ("deepseek-ai-", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    ("llama-cpp-deepseek", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    ("meta-llama-", "<|begin_of_text|>", "<|eot_id|>"),
    ("google-gemma", "<bos>", "<eos>"),
    ("microsoft-Phi", "<s>", "<|endoftext|>"),
    ("mistralai-", "<s>", "</s>"),
    ("Qwen-", "", "<|im_end|>"),
    ("NousResearch-", "<|begin_of_text|>", "<|im_end|>"),
]


def make_env():
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.datetime.fromtimestamp(kFixedNow, tz=datetime.timezone.utc).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, source, context):
    """Returns {"output": text} or {"error": message, "error_type": exception class}."""
    try:
        return {"output": env.from_string(source).render(**context)}
    except Exception as e:  # noqa: BLE001 - every failure is a golden outcome
        return {"error": str(e), "error_type": type(e).__name__}


def special_tokens(name):
    for prefix, bos, eos in kSpecialTokens:
        if name.startswith(prefix):
            return bos, eos
    return "<s>", "</s>"


def main():
    template_dir, conversations_path = sys.argv[1], sys.argv[2]
    with open(conversations_path, encoding="utf-8") as f:
        conversations = json.load(f)["conversations"]
    env = make_env()
    cases = []
    for name in sorted(os.listdir(template_dir)):
        if not name.endswith(".jinja"):
            continue
        with open(os.path.join(template_dir, name), encoding="utf-8") as f:
            source = f.read()
        bos, eos = special_tokens(name)
        for conv in conversations:
            for agp in (True, False):
                context = {"messages": conv["messages"], "add_generation_prompt": agp,
                           "bos_token": bos, "eos_token": eos}
                if "tools" in conv:
                    context["tools"] = conv["tools"]
                context.update(conv.get("extra", {}))
                case = {"template": name, "conversation": conv["name"], "add_generation_prompt": agp,
                        "bos_token": bos, "eos_token": eos}
                case.update(render(env, source, context))
                cases.append(case)
    json.dump({"jinja2_version": jinja2.__version__, "now_unix": kFixedNow, "cases": cases}, sys.stdout,
              ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
