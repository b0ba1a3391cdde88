#!/usr/bin/python3
# Expected results of individual Jinja features, rendered by the real Jinja2, for
# tests/text/jinja_test.cpp. The cases (template + context) are listed below; each gets the output
# Jinja2 renders or the error it raises, in the same environment as gen-chat-template-golden.py
# (Hugging Face's: sandboxed, trim_blocks, lstrip_blocks, loopcontrols, HF tojson,
# raise_exception, strftime_now at a fixed instant).
#
# Regenerate (Debian's python3-jinja2 3.1.2, NOT the pyenv python3 on PATH):
#   /usr/bin/python3 scripts/gen-jinja-cases.py > tests/data/jinja/cases.json
#
# Every context gets messages=[], add_generation_prompt=False, bos_token="" and eos_token=""
# unless it sets them, because sinan's ChatTemplate::render always defines those four.
import importlib.util
import json
import os
import sys

import jinja2

_spec = importlib.util.spec_from_file_location(
    "golden", os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen-chat-template-golden.py"))
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)

MSGS = [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]}]

CASES = [
    # --- whitespace control ---
    ("trim_blocks", "a\n{% if true %}\nx\n{% endif %}\nb", {}),
    ("lstrip_blocks", "  {% if true %}x{% endif %}  \ny", {}),
    ("lstrip_not_after_text", "a {% if true %}b{% endif %} c", {}),
    ("minus_both_sides", "a  \n {%- if true -%}  x  {%- endif -%} \n b", {}),
    ("var_minus", "a {{- 'b' -}} c", {}),
    ("var_end_keeps_newline", "{{ 'x' }}\ny", {}),
    ("comment_trim", "{# comment #}\nx  {# c #}\ny a {#- c -#} b", {}),
    ("plus_disables_lstrip", "  {%+ if true %}x{% endif %}", {}),
    ("plus_disables_trim", "{% if true +%}\nx{% endif %}", {}),
    ("trailing_newline_dropped", "x\n", {}),
    ("only_one_trailing_newline_dropped", "x\n\n", {}),
    ("crlf_normalised", "a\r\nb\rc", {}),
    ("loop_lines", "{% for i in [1, 2] %}\n  {{ i }}\n{% endfor %}\n", {}),
    ("indented_blocks", "<\n    {%- for m in messages %}\n        {{- m.role }}\n    {%- endfor %}\n>", {"messages": MSGS}),
    ("raw_block", "a\n  {% raw %}{{ not_evaluated }} {% if %}{% endraw %}\nb", {}),
    ("raw_block_whitespace", "x {%- raw -%}  {{ y }}  {%- endraw -%} z|  {% raw %}\n  keep\n  {% endraw %}\n|{% raw %}a  {%+ endraw %}|", {}),
    ("syntax_raw_plus_is_not_raw", "{% raw +%}a{% endraw %}", {}),
    ("syntax_unclosed_raw", "{% raw %}never closed", {}),
    ("lstrip_after_var_newline", "{{ 'a' -}}\n  {% if true %}b{% endif %}", {}),
    # --- literals and printing ---
    ("int_float_printing", "{{ 1 }} {{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e-5 }} {{ 0.0001 }} {{ 3.14 }} {{ 1e16 }} {{ 1e15 }} {{ 2.5e-3 }} {{ -0.0 }}", {}),
    ("python_repr", "{{ [1, 'a', none, true, 1.5] }} {{ (1,) }} {{ (1, 2) }} {{ {'a': 1, 'b': [1, 2]} }} {{ {'q': \"it's\"} }} {{ none }} {{ false }}", {}),
    ("repr_escapes", "{{ ['a\\nb', 'tab\\t', 'back\\\\slash', 'both \\' and \"'] }}", {}),
    ("string_escapes", "{{ 'a\\nb\\t\\u00e9\\x41\\\\' }}|{{ \"d\\\"q\" }}|{{ 'a' 'b' }}", {}),
    ("unicode_string", "{{ '中文' ~ '😊' }} {{ '中文'[1] }} {{ '中文😊' | length }}", {}),
    ("context_values", "{{ messages[1].content }} {{ messages[2]['tool_calls'][0].function.arguments }} {{ n }} {{ f }} {{ b }}", {"messages": MSGS, "n": 3, "f": 2.0, "b": True}),
    # --- operators ---
    ("arithmetic", "{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 10 / 5 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 1.5 + 1 }} {{ -7.5 // 2 }} {{ 5.5 % 2 }} {{ true + 1 }} {{ -(3) }} {{ +4 }}", {}),
    ("string_ops", "{{ 'a' ~ 1 ~ none ~ x }} {{ 'ab' * 3 }} {{ 2 * 'c' }} {{ 'x' + 'y' }} {{ [1] + [2] }} {{ [0] * 3 }}", {}),
    ("subscripts_slices", "{{ 'abc'[1] }} {{ 'abc'[-1] }} {{ 'héllo'[1:3] }} {{ 'abc'[::-1] }} {{ [1, 2, 3][1:] }} {{ [1, 2, 3][::-1] }} {{ [1, 2, 3, 4, 5][1:4:2] }} {{ [1, 2, 3][:-1] }} {{ [1, 2][5] }}|", {}),
    ("comparisons", "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] == [1, 2] }} {{ 'a' != 'a' }} {{ 2 >= 2 }} {{ none == none }} {{ x == y }}", {}),
    ("membership", "{{ 'a' in 'abc' }} {{ 3 not in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 1 in x }} {{ 'content' in messages[0] }}", {"messages": MSGS}),
    ("logic", "{{ not none }} {{ none or 'x' }} {{ 0 and 1 }} {{ [] or {} }} {{ 1 and 'y' }} {{ not 'a' }} {{ not x is defined }}", {}),
    ("ternary", "{{ 'y' if true else 'n' }} {{ 'y' if false else 'n' }} [{{ 'y' if false }}] {{ 'a' if 0 else 'b' if 1 else 'c' }}", {}),
    ("filter_binds_tighter", "{{ 'a' + 'b' | upper }} {{ -1 | abs }} {{ 'x' ~ [1, 2] | length }}", {}),
    # --- undefined ---
    ("undefined_is_empty", "[{{ x }}] {{ x is defined }} {{ x is undefined }} {{ x | default('d') }} {{ x | length }} {{ x | string }}|{% for i in x %}no{% endfor %}|{{ x is iterable }}|{{ x == x }}", {}),
    ("missing_key_is_undefined", "[{{ messages[0].nothing }}] {{ messages[0].nothing is defined }} {{ messages[5] is defined }}", {"messages": MSGS}),
    ("none_attribute_is_undefined", "[{{ none.foo }}] {{ 'abc'.nothing is defined }}", {}),
    ("undefined_attribute_errors", "{{ x.y }}", {}),
    ("undefined_arithmetic_errors", "{{ x + 1 }}", {}),
    ("undefined_call_errors", "{{ x() }}", {}),
    ("undefined_subscript_errors", "{{ messages[0]['role'] }}", {"messages": []}),
    # --- statements ---
    ("if_elif_else", "{% for n in [1, 2, 3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %} {% endfor %}", {}),
    ("loop_variables", "{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}", {}),
    ("for_else", "{% for x in [] %}x{% else %}empty{% endfor %}{% for x in [1] %}{{ x }}{% else %}no{% endfor %}", {}),
    ("loop_filter", "{% for x in range(10) if x is odd %}{{ x }}/{{ loop.length }} {% endfor %}", {}),
    ("break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("dict_iteration", "{% for k, v in {'b': 1, 'a': 2}.items() %}{{ k }}={{ v }},{% endfor %}{% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %}", {}),
    ("string_iteration", "{% for c in 'hé' %}[{{ c }}]{% endfor %}", {}),
    ("nested_loops", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }} {% endfor %}{{ loop.index }};{% endfor %}", {}),
    ("loop_scoping", "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = i + 10 %}{{ x }} {% endfor %}{{ x }}", {}),
    ("if_does_not_scope", "{% if true %}{% set x = 5 %}{% endif %}{{ x }}", {}),
    ("namespace", "{% set ns = namespace(c=0, s='') %}{% for i in range(4) %}{% set ns.c = ns.c + i %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.c }} {{ ns.s }}", {}),
    ("namespace_empty_then_set", "{% set ns = namespace() %}{% set ns.index = 0 %}{% for m in messages %}{% set ns.index = ns.index + 1 %}{% endfor %}{{ ns.index }}", {"messages": MSGS}),
    ("set_block", "{% set x %}hello {{ 1 + 1 }}{% endset %}[{{ x }}]", {}),
    ("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = 3, 4 %}{{ c }}", {}),
    ("set_shadows_context", "{% set messages = messages[1:] %}{{ messages | length }}", {"messages": MSGS}),
    ("macro", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bob') }} {{ greet('Al', punct='?') }} {{ greet() }}", {}),
    ("macro_recursion", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1) | int }}{% endif %}{% endmacro %}{{ fact(5) }}", {}),
    ("macro_sees_namespace", "{% set ns = namespace(v='a') %}{% macro show() %}{{ ns.v }}{% set ns.v = 'b' %}{% endmacro %}{{ show() }}{{ show() }}{{ ns.v }}", {}),
    ("with_block", "{% with y = 5 %}{{ y }}{% endwith %}[{{ y }}]", {}),
    ("loop_cycle", "{% for i in range(5) %}{{ loop.cycle('a', 'b') }}{% endfor %}", {}),
    ("loop_changed", "{% for i in [1, 1, 2, 2, 3] %}{% if loop.changed(i) %}{{ i }}{% endif %}{% endfor %}", {}),
    # --- filters ---
    ("string_filters", "{{ '  hi there  ' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ 'hello world-foo(bar' | title }}|{{ 'hELLO wORLD' | capitalize }}|{{ 'ÀÉ Ab' | lower }}|{{ 'straße' | upper }}", {}),
    ("replace_filter", "{{ 'aaa' | replace('a', 'b') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ 'ab' | replace('', '-') }}", {}),
    ("join_filter", "{{ [1, 2, 3] | join(', ') }} {{ [{'n': 'a'}, {'n': 'b'}] | join('-', attribute='n') }} {{ 'abc' | join('.') }}", {}),
    ("first_last_length", "{{ [3, 4, 5] | first }} {{ [3, 4, 5] | last }} {{ 'héllo' | length }} {{ {'a': 1} | count }} {{ 'abc' | first }} [{{ [] | first }}]", {}),
    ("default_filter", "{{ '' | default('x') }}|{{ '' | default('x', true) }}|{{ none | d('y', true) }}|{{ none | default('z') }}|{{ x | default }}|", {}),
    ("items_filter", "{% for k, v in {'b': 1, 'a': 2} | items %}{{ k }}{{ v }}{% endfor %}", {}),
    ("list_filter", "{{ 'abc' | list }} {{ {'a': 1} | list }} {{ range(3) | list }}", {}),
    ("map_filter", "{{ [{'a': 1}, {'a': 2}, {}] | map(attribute='a') | list }} {{ ['a', 'b'] | map('upper') | join }} {{ [{'a': {'b': 3}}] | map(attribute='a.b') | list }} {{ [{}] | map(attribute='a', default='-') | list }}", {}),
    ("selectattr_filter", "{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ messages | rejectattr('role', 'eq', 'user') | map(attribute='role') | list }} {{ messages | selectattr('tool_calls') | list | length }} {{ messages | selectattr('tool_calls', 'defined') | list | length }}", {"messages": MSGS}),
    ("select_reject", "{{ range(6) | select('odd') | list }} {{ range(6) | reject('divisibleby', 3) | list }} {{ [0, 1, '', 'a'] | select | list }}", {}),
    ("tojson_filter", "{{ {'a': [1, 2.5, none, true], 'é': 'x\"y\\n', 'k': {}} | tojson }}", {}),
    ("tojson_indent", "{{ {'a': [1, {'b': 2}], 'c': [], 'd': {}} | tojson(indent=2) }}", {}),
    ("tojson_options", "{{ {'b': 1, 'a': [1, 2]} | tojson(sort_keys=true) }} {{ {'b': 1, 'a': [1, 2]} | tojson(separators=(',', ':')) }} {{ 'ü\\u2028\\x01' | tojson }} {{ 1.0 | tojson }} {{ tools | tojson }}", {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"z": 1, "a": 2}}}]}),
    ("tojson_generator_fails", "{{ messages | selectattr('role') | tojson }}", {"messages": MSGS}),
    ("tojson_undefined_fails", "{{ x | tojson }}", {}),
    ("number_filters", "{{ '42' | int }} {{ '3.7' | int }} {{ 'x' | int }} {{ 3.9 | int }} {{ '2.5' | float }} {{ 'y' | float }} {{ -3 | abs }} {{ -2.5 | abs }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 3.14159 | round(2) }} {{ 2.7 | round(method='floor') }} {{ 2.1 | round(method='ceil') }} {{ 3 | round }} {{ '0x1A' | int(base=16) }}", {}),
    ("unique_sort", "{{ ['b', 'A', 'a', 'c'] | unique | list }} {{ [3, 1, 2] | sort }} {{ ['b', 'A', 'c'] | sort }} {{ ['b', 'A', 'c'] | sort(case_sensitive=true) }} {{ [3, 1, 2] | sort(reverse=true) }} {{ {'b': 1, 'a': 2} | dictsort }} {{ [{'n': 2}, {'n': 1}] | sort(attribute='n') }}", {}),
    ("text_filters", "{{ 'hello big world' | wordcount }}|{{ 'ab' | center(7) }}|{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(width='> ', blank=true) }}|{{ 'The quick brown fox jumps over' | truncate(12) }}|{{ 'The quick brown fox jumps over' | truncate(12, true) }}|{{ 'short' | truncate(10) }}", {}),
    ("aggregate_filters", "{{ [3, 1, 2] | min }} {{ [3, 1, 2] | max }} {{ [1, 2, 3] | sum }} {{ [{'v': 2}, {'v': 5}] | sum(attribute='v') }} {{ ['b', 'A'] | max }}", {}),
    ("reverse_escape_string", "{{ 'abc' | reverse }} {{ [1, 2, 3] | reverse | list }} {{ '<a href=\"x\">&' | e }} {{ [1, 'a'] | string }} {{ 'x' | safe }}", {}),
    ("attr_filter", "{{ {'a': 5} | attr('a') }} [{{ {'a': 5} | attr('b') }}]", {}),
    # --- tests ---
    ("type_tests", "{{ 1 is number }} {{ true is number }} {{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }} {{ 'a' is string }} {{ {} is mapping }} {{ [] is iterable }} {{ 'a' is iterable }} {{ [] is sequence }} {{ {} is sequence }} {{ 1 is iterable }} {{ none is none }} {{ true is true }} {{ 0 is false }} {{ false is false }} {{ 1 is boolean }} {{ true is boolean }} {{ range is callable }} {{ 'a' is callable }}", {}),
    ("value_tests", "{{ 3 is odd }} {{ 4 is even }} {{ 6 is divisibleby(3) }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ 1 is eq 1 }} {{ 2 is gt(1) }} {{ 1 is lt 0 }} {{ 1 is in [1, 2] }} {{ 1 is sameas 1 }} {{ none is sameas none }} {{ 'a' is not string }} {{ x is not defined }}", {}),
    # --- methods ---
    ("string_methods", "{{ '  a b  '.strip() }}|{{ 'xxaxx'.lstrip('x') }}|{{ 'xxaxx'.rstrip('x') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'aXa'.replace('a', 'b') }}|{{ 'hello wORLD 2x'.title() }}|{{ 'Hi'.upper() }}{{ 'Hi'.lower() }}|{{ 'abcabc'.find('c') }}|{{ 'abcabc'.count('b') }}|{{ '-'.join(['a', 'b']) }}|{{ 'a{}b{x}{{}}'.format(1, x=2) }}|{{ 'a\\nb'.splitlines() }}|{{ '123'.isdigit() }}|{{ 'hello'.capitalize() }}", {}),
    ("think_split", "{% set c = '<think>\\nr\\n</think>\\n\\nanswer' %}[{{ c.split('</think>')[-1] }}]|[{{ c.split('</think>', 1)[1] }}]|[{{ c.split('</think>')[-1].lstrip('\\n') }}]|[{{ c.split('</think>')[0].split('<think>')[-1].strip('\\n') }}]", {}),
    ("dict_methods", "{% set d = {'a': 1, 'items': 3} %}{{ d.get('a') }} {{ d.get('b') }} {{ d.get('b', 2) }} {{ d.keys() | list }} {{ d.values() | list }} {{ d['a'] }} {{ d.a }} {{ d['items'] }} {% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}", {}),
    ("list_methods", "{{ [1, 2, 1].count(1) }} {{ ['a', 'b'].index('b') }}", {}),
    # --- globals ---
    ("range_dict", "{{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ range(5, 0, -2) | list }} {{ dict(a=1, b='x') }}", {}),
    ("raise_exception", "before{{ raise_exception('Bad role: ' ~ 'x') }}", {}),
    ("raise_exception_in_loop", "{% for m in messages %}{% if m.role == 'assistant' %}{{ raise_exception('Assistant at ' ~ loop.index0) }}{% endif %}{% endfor %}", {"messages": MSGS}),
    ("strftime_now", "{{ strftime_now('%Y-%m-%d %H:%M:%S') }} {{ strftime_now('%d %b %Y') }} {{ strftime_now('%A %B') }}", {}),
    # --- idioms of real templates beyond the shared set (Qwen3, multimodal content, gpt-oss macros) ---
    ("qwen3_last_query_scan", "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}{%- for message in messages[::-1] %}{%- set index = (messages|length - 1) - loop.index0 %}{%- if ns.multi_step_tool and message.role == 'user' and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}{%- set ns.multi_step_tool = false %}{%- set ns.last_query_index = index %}{%- endif %}{%- endfor %}{{ ns.last_query_index }}", {"messages": MSGS + [{"role": "user", "content": "<tool_response>x</tool_response>"}]}),
    ("qwen3_reasoning_extract", "{%- set content = '<think>\\nplan\\n</think>\\n\\nfinal' %}{%- if '</think>' in content %}{%- set reasoning_content = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}{%- set content = content.split('</think>')[-1].lstrip('\\n') %}{%- endif %}[{{ reasoning_content }}][{{ content }}]", {}),
    ("multimodal_content", "{% for m in messages %}{% if m.content is string %}{{ m.content }}{% else %}{{ m.content | selectattr('type', 'equalto', 'text') | map(attribute='text') | join('\\n') }}{% endif %};{% endfor %}", {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}]}, {"role": "assistant", "content": "c"}]}),
    ("macro_keyword_defaults", "{%- macro render(spec, required=[], is_nullable=false) -%}{{ spec.type }}{% if is_nullable %} | null{% endif %}{{ '!' if spec.name in required }}{%- endmacro -%}{{ render({'type': 'string', 'name': 'a'}, ['a']) }},{{ render({'type': 'int', 'name': 'b'}, is_nullable=true) }}", {}),
    ("tools_length_compare", "{{ tools | length > 0 }} {{ (tools | length) > 1 }} {{ tools[0].function.parameters | items | list }} {{ tools[0]['function']['parameters'] | dictsort(reverse=true) }}", {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"z": 1, "a": 2}}}]}),
    ("date_string_default", "{%- if not date_string is defined %}{%- if strftime_now is defined %}{%- set date_string = strftime_now('%d %b %Y') %}{%- else %}{%- set date_string = '26 Jul 2024' %}{%- endif %}{%- endif %}Today Date: {{ date_string }}", {}),
    # --- runtime errors ---
    ("error_str_plus_int", "{{ 'a' + 1 }}", {}),
    ("error_str_plus_none", "{{ 'a' + none }}", {}),
    ("error_division_by_zero", "{{ 1 / 0 }}", {}),
    ("error_compare_types", "{{ 1 < 'a' }}", {}),
    ("error_iterate_int", "{% for x in 5 %}{% endfor %}", {}),
    ("error_length_of_none", "{{ none | length }}", {}),
    ("error_unknown_filter", "{{ 1 | nosuchfilter }}", {}),
    ("error_unknown_test", "{{ 1 is nosuchtest }}", {}),
    ("error_call_string", "{{ 'a'() }}", {}),
    ("error_set_attr_on_dict", "{% set d = {} %}{% set d.x = 1 %}", {}),
    ("error_unpack", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", {}),
    ("error_macro_infinite_recursion", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", {}),
    # --- syntax errors ---
    ("syntax_unclosed_if", "line1\n{% if true %}x", {}),
    ("syntax_incomplete_expression", "{{ 1 + }}", {}),
    ("syntax_stray_endfor", "a\n  {% endfor %}", {}),
    ("syntax_unclosed_string", "{{ 'abc }}", {}),
    ("syntax_for_without_iterable", "{% for x in %}{% endfor %}", {}),
    ("syntax_empty_filter", "{{ x | }}", {}),
    ("syntax_unknown_tag", "{% frobnicate %}", {}),
    ("syntax_unclosed_variable", "{{ x ", {}),
    ("syntax_unclosed_comment", "{# never closed", {}),
    ("syntax_bad_character", "{{ a ? b }}", {}),
]


def main():
    env = golden.make_env()
    out = []
    for name, source, context in CASES:
        ctx = {"messages": [], "add_generation_prompt": False, "bos_token": "", "eos_token": ""}
        ctx.update(context)
        case = {"name": name, "template": source, "context": ctx}
        try:
            template = env.from_string(source)
        except jinja2.TemplateSyntaxError as e:
            case.update({"error": e.message, "error_type": "TemplateSyntaxError", "line": e.lineno})
            out.append(case)
            continue
        case.update(golden.render(env, source, ctx))
        out.append(case)
    json.dump({"jinja2_version": jinja2.__version__, "now_unix": golden.kFixedNow, "cases": out}, sys.stdout,
              ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
