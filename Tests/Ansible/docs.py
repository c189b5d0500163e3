#!/usr/bin/env python3
"""The collection's modules say what they take: every option of a module's ARGUMENT_SPEC is in its DOCUMENTATION
with the same type, default, choices, elements and required, and nothing is documented that it does not take;
EXAMPLES and RETURN are YAML. (What ansible-test's validate-modules checks, without its virtual environment.)

docs.py COLLECTIONS_ROOT   (the folder that holds ansible_collections/)
"""

import importlib
import sys

import yaml

MODULES = ('forbc_apply', 'forbc_facts')
KEYS = ('type', 'default', 'choices', 'elements', 'required')


def problems(name):
    module = importlib.import_module('ansible_collections.forbc.host.plugins.modules.' + name)
    try:
        documented = yaml.safe_load(module.DOCUMENTATION)
        yaml.safe_load(module.EXAMPLES)
        yaml.safe_load(module.RETURN)
    except yaml.YAMLError as error:
        return ['%s: its documentation is not YAML: %s' % (name, str(error).replace('\n', ' '))]
    found = []
    if documented.get('module') != name:
        found.append("%s: DOCUMENTATION names module %r" % (name, documented.get('module')))
    options = documented.get('options', {})
    spec = module.ARGUMENT_SPEC
    for option in sorted(set(spec) | set(options)):
        if option not in options:
            found.append('%s: option %r is not documented' % (name, option))
            continue
        if option not in spec:
            found.append('%s: option %r is documented but not taken' % (name, option))
            continue
        for key in KEYS:
            taken, said = spec[option].get(key), options[option].get(key)
            if key == 'required':
                taken, said = bool(taken), bool(said)
            if key == 'default' and taken is None and said is None:
                continue
            if taken != said:
                found.append('%s: option %r has %s %r, documented %r' % (name, option, key, taken, said))
        if not options[option].get('description'):
            found.append('%s: option %r has no description' % (name, option))
    return found


def main():
    sys.path.insert(0, sys.argv[1])
    found = [problem for name in MODULES for problem in problems(name)]
    for problem in found:
        print('ansible: docs: %s' % problem, file=sys.stderr)
    print('ansible: docs: %d module(s), %d problem(s)' % (len(MODULES), len(found)), file=sys.stderr)
    sys.exit(1 if found else 0)


if __name__ == '__main__':
    main()
