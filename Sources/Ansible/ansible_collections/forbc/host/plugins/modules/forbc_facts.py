#!/usr/bin/python
# -*- coding: utf-8 -*-

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: forbc_facts
short_description: What forbc discovers on a host, as facts
version_added: "0.1.0"
description:
  - Runs C(forbc discover --output json) on the managed host (read-only) and returns it as C(ansible_facts.forbc),
    the GPUs with their partitioning capabilities, mdev parents and types, mdevs, MIG and MPS state, and the
    hypervisor's domains when libvirt was consulted.
options:
  executable:
    description: The forbc executable, a path or a name looked up in C(PATH).
    type: str
    default: forbc
  state_dir:
    description: Where forbc keeps what it created (C(--state-dir)).
    type: path
  root:
    description: The filesystem root under which C(/sys) is read (C(--root)).
    type: path
  simulate:
    description: A simulated host profile (C(--simulate)), for tests.
    type: str
  libvirt:
    description: The libvirt connection URI (C(--libvirt)).
    type: str
  extra_args:
    description: More arguments for C(forbc discover), after the others.
    type: list
    elements: str
    default: []
notes:
  - Supports check mode (discovery never changes anything).
author:
  - forbc
'''

EXAMPLES = r'''
- name: Discover the GPUs
  forbc.host.forbc_facts:

- name: Hosts with an A100 form a group
  ansible.builtin.group_by:
    key: "a100_{{ ansible_facts.forbc.gpus | selectattr('model', 'search', 'A100') | list | length > 0 }}"
'''

RETURN = r'''
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: complex
  contains:
    forbc:
      description: forbc's inventory (C(forbc discover --output json)).
      returned: always
      type: dict
      sample: {"simulated": true, "source": "simulated host 'nvidia-t4'", "gpus": [], "mdevParents": [], "mdevs": []}
rc:
  description: forbc's exit status.
  returned: always
  type: int
cmd:
  description: The forbc command line.
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.forbc.host.plugins.module_utils.forbc import (
    COMMON_ARGUMENT_SPEC, error_lines, forbc_command, parse_json, run_forbc)


ARGUMENT_SPEC = dict(COMMON_ARGUMENT_SPEC)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    argv = forbc_command(module, 'discover', [])
    rc, out, err = run_forbc(module, argv)
    if rc != 0:
        module.fail_json(msg='; '.join(error_lines(err)), rc=rc, cmd=argv, stdout=out, stderr=err)
    inventory = parse_json(module, argv, rc, out, err)
    module.exit_json(changed=False, ansible_facts=dict(forbc=inventory), rc=rc, cmd=argv)


if __name__ == '__main__':
    main()
