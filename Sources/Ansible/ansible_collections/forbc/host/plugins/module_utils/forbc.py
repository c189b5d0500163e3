# -*- coding: utf-8 -*-
# What forbc_apply and forbc_facts share: the options every forbc command takes, the command line they make, and
# forbc's way of reporting (JSON on stdout, notes and located errors on stderr, exit 1 on error).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

# The options of forbc's GlobalOptions that a task may set, and 'extra_args' for anything else.
COMMON_ARGUMENT_SPEC = dict(
    executable=dict(type='str', default='forbc'),
    state_dir=dict(type='path'),
    root=dict(type='path'),
    simulate=dict(type='str'),
    libvirt=dict(type='str'),
    extra_args=dict(type='list', elements='str', default=[]),
)


def forbc_binary(module):
    """The forbc executable: a path as given, or a name looked up in PATH (and /usr/local/bin, /usr/sbin...)."""
    name = module.params['executable']
    if '/' in name:
        return name
    return module.get_bin_path(name, required=True, opt_dirs=['/usr/local/bin', '/usr/local/sbin'])


def forbc_command(module, command, arguments, output='json'):
    """forbc COMMAND ARGUMENTS --output OUTPUT, with the task's global options and extra arguments."""
    params = module.params
    argv = [forbc_binary(module), command] + list(arguments) + ['--output', output]
    for option, flag in (('state_dir', '--state-dir'), ('root', '--root'), ('simulate', '--simulate'),
                         ('libvirt', '--libvirt')):
        if params.get(option):
            argv += [flag, params[option]]
    return argv + list(params.get('extra_args') or [])


def run_forbc(module, argv):
    """Runs forbc with stdin a pipe, never a terminal: forbc then refuses what it would otherwise ask about."""
    # run_command only opens a pipe for stdin when it has data to send: one newline, which forbc never reads.
    rc, out, err = module.run_command(argv, data='\n', binary_data=True)
    return rc, out, err


def error_lines(stderr):
    """forbc's errors (located as FILE:LINE:COL: error: ... for manifests), without its notes."""
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith('note: ')]
    return lines or ['forbc failed without saying why on stderr']


def parse_json(module, argv, rc, out, err):
    """forbc's JSON document on stdout; a failure when there is none or it is not JSON."""
    try:
        return json.loads(out)
    except ValueError as error:
        module.fail_json(
            msg="forbc printed no JSON document (%s): %s" % (error, '; '.join(error_lines(err))),
            cmd=argv, rc=rc, stdout=out, stderr=err)
