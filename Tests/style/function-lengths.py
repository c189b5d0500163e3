#!/usr/bin/env python3
"""Lists Swift functions (func, init, deinit) whose bodies run past a limit of lines, and lines over 120 columns.

Usage: function-lengths.py [--max N] [--width W] DIR...   (exit 1 when any is found)
A small lexer skips comments and string literals (including multi-line and raw strings) so braces inside them do
not count; a body's length is the lines from its declaration's line to its closing brace.
"""
import re
import sys
from pathlib import Path

DECL = re.compile(r'(?<![.\w])(func\s+[^\s(<]+|init[?!]?\s*[(<]|deinit\b)')


def strip(text):
    """The text with comments and string contents blanked (newlines kept), so braces can be counted."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i)); i = j
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j])); i = j
        elif text[i] == '"' or (text[i] == '#' and re.match(r'#+"', text[i:])):
            hashes = len(re.match(r'#*', text[i:]).group(0))
            start = i + hashes
            multi = text.startswith('"""', start)
            quote = '"""' if multi else '"'
            close = quote + '#' * hashes
            j = start + len(quote)
            depth = 0
            while j < n:
                if text[j] == '\\' and hashes == 0:
                    if text.startswith('\\(', j):
                        depth += 1; j += 2; continue
                    j += 2; continue
                if depth and text[j] == '(':
                    depth += 1
                elif depth and text[j] == ')':
                    depth -= 1
                elif not depth and text.startswith(close, j):
                    j += len(close); break
                elif not multi and text[j] == '\n':
                    break
                j += 1
            out.append(re.sub(r'[^\n]', ' ', text[i:j])); i = j
        else:
            out.append(text[i]); i += 1
    return ''.join(out)


def long_functions(path, limit):
    code = strip(path.read_text())
    found = []
    for match in DECL.finditer(code):
        open_at = code.find('{', match.end())
        if open_at < 0:
            continue
        # A protocol requirement has no body: a newline-separated declaration before any brace.
        between = code[match.end():open_at]
        if re.search(r'\n\s*(func|var|let|init|case|static|public|mutating)\b', between):
            continue
        depth, j = 0, open_at
        while j < len(code):
            if code[j] == '{':
                depth += 1
            elif code[j] == '}':
                depth -= 1
                if depth == 0:
                    break
            j += 1
        first = code.count('\n', 0, match.start()) + 1
        last = code.count('\n', 0, j) + 1
        if last - first + 1 > limit:
            name = match.group(1).split('(')[0].strip()
            found.append((first, last - first + 1, name))
    return found


def main(argv):
    limit, width, dirs = 60, 120, []
    args = iter(argv)
    for arg in args:
        if arg == '--max':
            limit = int(next(args))
        elif arg == '--width':
            width = int(next(args))
        else:
            dirs.append(arg)
    bad = 0
    for directory in dirs:
        for path in sorted(Path(directory).rglob('*.swift')):
            for line, length, name in long_functions(path, limit):
                print(f'{path}:{line}: {name} is {length} lines (limit {limit})'); bad += 1
            for number, text in enumerate(path.read_text().split('\n'), 1):
                if len(text) > width:
                    print(f'{path}:{number}: line is {len(text)} columns (limit {width})'); bad += 1
    print(f'{bad} found', file=sys.stderr)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
