#!/usr/bin/python
# -*- coding: utf-8 -*-

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: forbc_apply
short_description: Make a host's GPU partitions match a forbc manifest
version_added: "0.1.0"
description:
  - Runs C(forbc apply) of a manifest on the managed host, without asking (forbc refuses without a terminal what it
    would ask about), and reports C(changed) when forbc made at least one change.
  - In check mode it runs C(forbc plan --output json) instead and changes nothing; C(changed) then says whether the
    plan has actions.
  - With C(--diff) the result carries forbc's plan as forbc prints it (one line per action, with its reason), and
    the manifest's old and new text when I(content) rewrites it.
  - A manifest forbc refuses (invalid, or impossible on this host, or destroying without I(allow_destroy)) fails the
    task with forbc's errors, each located as C(FILE:LINE:COL) in the manifest, and nothing changed; an apply that
    stops at a failed step fails with forbc's report.
  - New I(content) is applied from a temporary copy beside I(manifest) (a hidden file in the same folder, so that
    what the manifest names by a relative path, its C(workloads/) folder, is found the same), and replaces the file
    only once forbc has applied it. When forbc refuses it or fails before changing anything, the file keeps its old
    text byte for byte (and the host is as it was), so that C(forbc-apply.service) at boot and the drift timer
    (C(forbc systemd install)) never act on a manifest the task did not apply.
  - When forbc stops at a failed step after some of its changes (a MIG mode pending a GPU reset, a busy device),
    the host matches neither text; the new one is then put in place (forbc had already passed its confirmation,
    I(allow_destroy) included), so that a reboot, C(forbc-apply.service) and the drift checks go on towards it
    rather than undo half of it, and the task fails with forbc's report (I(manifest_written) true). Running the
    task again retries what is left. A forbc killed by a signal prints no report; the old text then stays.
options:
  manifest:
    description:
      - The manifest's path on the managed host.
      - With I(content), where the content is written (parent directories created) once forbc has applied it.
    type: path
    required: true
  content:
    description:
      - The manifest's text, written to I(manifest) when it differs and forbc applied it (reported as a change).
      - In check mode nothing is written; the plan is made from a temporary copy, so the check shows what the new
        text would do (a C(template) task before this one would not have written it in check mode).
    type: str
  allow_destroy:
    description:
      - Let forbc destroy partitions and hot-unplug them from running guests (C(forbc apply --yes)).
      - Without it an apply whose plan destroys or unplugs anything fails, and changes nothing.
    type: bool
    default: false
  force:
    description: Detach partitions from running domains so that they can be destroyed (C(--force)).
    type: bool
    default: false
  reset_gpu:
    description: Reset a GPU whose MIG mode change is pending (C(--reset-gpu)).
    type: bool
    default: false
  bench:
    description:
      - When the manifest's benchmark suites run after the apply (C(--bench)).
      - Defaults to C(never), unlike forbc itself (C(on-change)), so that a fleet run does not start benchmarks.
    type: str
    choices: [on-change, always, never]
    default: never
  executable:
    description: The forbc executable, a path or a name looked up in C(PATH).
    type: str
    default: forbc
  state_dir:
    description: Where forbc keeps what it created (C(--state-dir); forbc's default is C(/var/lib/forbc)).
    type: path
  root:
    description: The filesystem root under which C(/sys) is read and written (C(--root)).
    type: path
  simulate:
    description: A simulated host profile (C(--simulate)), for tests; nothing real is touched.
    type: str
  libvirt:
    description: The libvirt connection URI (C(--libvirt)).
    type: str
  extra_args:
    description:
      - More arguments for every forbc command the module runs (C(plan) in check mode and for C(--diff), C(apply)),
        after the others.
    type: list
    elements: str
    default: []
notes:
  - Supports check mode and diff mode.
  - forbc reads C(FORBC_ROOT), C(FORBC_STATE_DIR) and C(FORBC_LIBVIRT_URI) when the options are not set.
  - When new I(content) goes to a manifest inside a git work tree, the provenance forbc records for the apply names
    the temporary copy, as uncommitted; C(forbc sync) is the way to apply manifests from git.
author:
  - forbc
'''

EXAMPLES = r'''
- name: Partition the GPUs as the manifest says
  forbc.host.forbc_apply:
    manifest: /etc/forbc/host.yaml

- name: Ship the host's manifest from the repository and apply it, destroying what it no longer declares
  forbc.host.forbc_apply:
    manifest: /etc/forbc/host.yaml
    content: "{{ lookup('file', 'hosts/' ~ inventory_hostname ~ '.yaml') }}"
    allow_destroy: true

- name: A simulated host (tests)
  forbc.host.forbc_apply:
    manifest: /srv/forbc/t4.yaml
    simulate: nvidia-t4
    state_dir: /tmp/forbc-t4
    executable: /opt/forbc/bin/forbc
'''

RETURN = r'''
actions:
  description: The number of actions planned (check mode) or made (apply).
  returned: always
  type: int
  sample: 4
plan:
  description: forbc's plan (C(forbc plan --output json)); C(actions) is empty on a converged host.
  returned: in check mode
  type: dict
  sample: {"host": "t4-node", "simulated": true, "actions": [], "partitions": [], "prune": "all"}
report:
  description: forbc's apply report (C(done), C(alreadyDone), C(notAttempted), C(failed), C(succeeded)).
  returned: when forbc applied, or stopped at a failed step
  type: dict
  sample: {"host": "t4-node", "succeeded": true, "done": [], "alreadyDone": [], "notAttempted": []}
manifest_changed:
  description: Whether I(content) differed from the file at I(manifest).
  returned: always
  type: bool
manifest_written:
  description:
    - Whether I(content) was written to I(manifest), after forbc applied it or stopped at a failed step after some
      of its changes. False in check mode, and when forbc refused it or changed nothing (the old file stays).
  returned: always
  type: bool
rc:
  description: forbc's exit status (0 success, 1 error).
  returned: always
  type: int
stderr:
  description: forbc's notes and errors.
  returned: always
  type: str
cmd:
  description: The forbc command line that ran last.
  returned: always
  type: list
  elements: str
'''

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible_collections.forbc.host.plugins.module_utils.forbc import (
    COMMON_ARGUMENT_SPEC, error_lines, forbc_command, parse_json, run_forbc)


def read_file(path):
    """The file's text, or None when there is none."""
    try:
        with open(path, 'rb') as handle:
            return to_text(handle.read(), errors='surrogate_or_strict')
    except (IOError, OSError):
        return None


def missing_folders(folder):
    """The folders above and at `folder` that do not exist yet, deepest first."""
    missing = []
    while folder and not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return missing


class Manifest(object):
    """The file forbc reads: the manifest itself, or, when I(content) differs from it, a temporary copy.

    Outside check mode the copy is a hidden file beside the manifest (forbc resolves what a manifest names by a
    relative path, its workloads/ folder, against the manifest's folder), put in place by commit() only once forbc
    has applied it; discard() removes it, and the folders made for it when they are still empty, otherwise. In check
    mode it is a file of the same name in the module's temporary folder (forbc plan reads no relative path).
    """

    def __init__(self, module, result, diffs):
        self.module, self.result = module, result
        self.path, content = module.params['manifest'], module.params['content']
        self.planned, self.made = self.path, []
        if content is None:
            return
        before = read_file(self.path)
        result['manifest_changed'] = before != content
        if not result['manifest_changed']:
            return
        diffs.append(dict(before=before or '', after=content, before_header=self.path, after_header=self.path))
        if module.check_mode:
            self.planned = os.path.join(module.tmpdir, os.path.basename(self.path))
            with open(self.planned, 'wb') as handle:
                handle.write(to_bytes(content))
            return
        folder = os.path.dirname(os.path.abspath(self.path))
        self.made = missing_folders(folder)
        name = os.path.basename(self.path)
        try:
            if self.made:
                os.makedirs(folder)
            fd, self.planned = tempfile.mkstemp(
                dir=folder, prefix='.%s.forbc_apply-' % name, suffix=os.path.splitext(name)[1])
            module.add_cleanup_file(self.planned)
            with os.fdopen(fd, 'wb') as handle:
                handle.write(to_bytes(content))
        except (IOError, OSError) as error:
            self.discard()
            module.fail_json(msg="cannot write the new manifest beside '%s': %s" % (self.path, to_native(error)),
                             **result)

    def commit(self):
        """Puts the applied copy in place of the manifest (nothing to do when forbc read the manifest itself)."""
        if self.planned == self.path or self.module.check_mode:
            return
        self.module.atomic_move(self.planned, self.path)
        self.planned = self.path
        self.result['manifest_written'] = True
        self.result['changed'] = True

    def discard(self):
        """Removes a copy not put in place, and the folders made for it that are still empty."""
        if self.planned != self.path and not self.module.check_mode and os.path.exists(self.planned):
            os.unlink(self.planned)
        for folder in self.made if not self.result['manifest_written'] else []:
            try:
                os.rmdir(folder)
            except OSError:
                break


class Forbc(object):
    """forbc's commands on one manifest, their outputs with a temporary copy's path read as the manifest's."""

    def __init__(self, module, result, planned):
        self.module, self.result, self.planned = module, result, planned

    def run(self, command, arguments, output='json'):
        argv = forbc_command(self.module, command, [self.planned] + arguments, output)
        rc, out, err = run_forbc(self.module, argv)
        manifest = self.module.params['manifest']
        out, err = out.replace(self.planned, manifest), err.replace(self.planned, manifest)
        self.result.update(rc=rc, stderr=err, cmd=argv)
        return rc, out, err

    def fail(self, rc, out, err, report=None):
        msg = '; '.join(error_lines(err))
        if rc < 0:
            # run_command's status for a forbc killed by a signal; it said nothing, the rerun continues.
            msg = "forbc was killed by signal %d; run again: apply continues from what is done" % -rc
        if 'refusing without confirmation' in err:
            msg += " (forbc_apply passes '--yes' with allow_destroy: true)"
        if report is not None:
            self.result['report'] = report
            self.result['actions'] = len(report.get('done', []))
            self.result['changed'] = self.result['changed'] or self.result['actions'] > 0
        self.module.fail_json(msg=msg, stdout=out, **self.result)

    def plan_text(self):
        """forbc's plan as forbc prints it, for --diff."""
        rc, out, err = self.run('plan', [], output='text')
        if rc != 0:
            self.fail(rc, out, err)
        return out


def warn_destruction(module, plan):
    """In check mode: what the real run would refuse without allow_destroy."""
    actions = plan.get('actions', [])
    # As forbc counts them: destroys, VFs disabled (sriov_numvfs 0), and configure steps that take partitions
    # away or reload a driver ("disrupts").
    destroys = [a['target'] for a in actions if a.get('action') == 'destroy' or a.get('disrupts')
                or (a.get('action') == 'configure' and a.get('value') == '0')]
    unplugs = [a['target'] for a in actions if a.get('action') == 'detach' and a.get('live')]
    if (destroys or unplugs) and not module.params['allow_destroy']:
        module.warn(
            "the plan destroys %s and hot-unplugs %s; the real run refuses unless allow_destroy is true"
            % (', '.join(destroys) or 'nothing', ', '.join(unplugs) or 'nothing'))


def check(module, forbc, result):
    """Check mode: forbc plan, nothing changed."""
    rc, out, err = forbc.run('plan', [])
    if rc != 0:
        forbc.fail(rc, out, err)
    plan = parse_json(module, result['cmd'], rc, out, err)
    plan['manifest'] = module.params['manifest']
    result['plan'] = plan
    result['actions'] = len(plan.get('actions', []))
    result['changed'] = result['manifest_changed'] or result['actions'] > 0
    warn_destruction(module, plan)


def apply(module, forbc, result, manifest):
    """forbc apply, without asking: destruction only with allow_destroy. New content is put in place when forbc
    applied it, or stopped after some of its changes (the host has then left the old text: at boot and in drift
    checks forbc goes on towards the new one rather than undoing half of it); otherwise the old file stays."""
    params = module.params
    arguments = ['--bench', params['bench']]
    for flag, wanted in (('--yes', params['allow_destroy']), ('--force', params['force']),
                         ('--reset-gpu', params['reset_gpu'])):
        if wanted:
            arguments.append(flag)
    rc, out, err = forbc.run('apply', arguments)
    # An apply that stopped at a failed step still prints its report; a refused manifest prints none.
    report = parse_json(module, result['cmd'], rc, out, err) if rc == 0 or out.strip() else None
    if report is not None and (rc == 0 or report.get('done')):
        manifest.commit()
    if rc != 0:
        forbc.fail(rc, out, err, report)
    result['report'] = report
    result['actions'] = len(report.get('done', []))
    result['changed'] = result['manifest_written'] or result['actions'] > 0


ARGUMENT_SPEC = dict(
    manifest=dict(type='path', required=True),
    content=dict(type='str'),
    allow_destroy=dict(type='bool', default=False),
    force=dict(type='bool', default=False),
    reset_gpu=dict(type='bool', default=False),
    bench=dict(type='str', choices=['on-change', 'always', 'never'], default='never'),
    **COMMON_ARGUMENT_SPEC
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    result = dict(changed=False, manifest_changed=False, manifest_written=False, actions=0, rc=0, stderr='', cmd=[])
    diffs = []
    manifest = Manifest(module, result, diffs)
    try:
        if module.params['content'] is None and not os.path.isfile(manifest.planned):
            module.fail_json(msg="no manifest at '%s'; give its path on the managed host, or its text as content"
                             % manifest.planned, **result)
        forbc = Forbc(module, result, manifest.planned)
        if module._diff:
            diffs.append(dict(prepared=forbc.plan_text()))
        if module.check_mode:
            check(module, forbc, result)
        else:
            apply(module, forbc, result, manifest)
        if module._diff:
            result['diff'] = diffs
        module.exit_json(**result)
    finally:
        manifest.discard()


if __name__ == '__main__':
    main()
