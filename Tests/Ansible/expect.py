#!/usr/bin/env python3
"""Checks one ansible-playbook run of Tests/Ansible/run: its exit status, the recap counts per host (as the
forbc_results callback recorded them, and the same in the PLAY RECAP printed), each host's result of the apply task,
and, through forbc itself, what the hosts' state dirs hold afterwards.

expect.py TMP NAME [--rc N] [--changed H...] [--unchanged H...] [--failed H...] [--untouched H...]
          [--failed-signal HOST N] [--warned HOST TEXT] [--located HOST REGEX]... [--plans HOST:PLANNED_HOST...]
          [--diffs HOST:PLANNED_HOST...] [--plays N] [--state-root DIR] [--pending FORBC H...] [--converged FORBC H...]
          [--converged-with FORBC HOST MANIFEST]... [--absent-file PATH] [--written H...] [--kept H...]
          [--file-is PATH REFERENCE]...

TMP holds NAME.log, NAME.rc, NAME.json and fleet.json ({host: [profile, manifest]}; state dirs are TMP/state/HOST).
--written: the host's task wrote its new content to the manifest; --kept: its content differed and was not written.
--file-is: PATH holds REFERENCE's bytes, and no temporary copy of it (.NAME.forbc_apply-*) is left beside it.
Prints one line per check; exits 1 when any failed.
"""

import argparse
import json
import os
import re
import subprocess
import sys

RECAP = re.compile(r'^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)\s+'
                   r'rescued=(\d+)\s+ignored=(\d+)', re.MULTILINE)


APPLY = "Apply the host's manifest"


class Run:
    def __init__(self, tmp, name):
        self.tmp, self.name = tmp, name
        with open(os.path.join(tmp, name + '.log')) as handle:
            self.log = handle.read()
        with open(os.path.join(tmp, name + '.rc')) as handle:
            self.rc = int(handle.read())
        with open(os.path.join(tmp, name + '.json')) as handle:
            self.recorded = json.load(handle)
        with open(os.path.join(tmp, 'fleet.json')) as handle:
            self.fleet = json.load(handle)
        self.recap = {host: dict(ok=counts['ok'], changed=counts['changed'], unreachable=counts['unreachable'],
                                 failed=counts['failures'])
                      for host, counts in self.recorded['recap'].items()}
        self.printed = {m.group(1): dict(zip(('ok', 'changed', 'unreachable', 'failed'), map(int, m.groups()[1:5])))
                        for m in RECAP.finditer(self.log)}
        self.failures = []

    def check(self, condition, what):
        print('ansible: %s: %s %s' % (self.name, 'ok  ' if condition else 'FAIL', what), file=sys.stderr)
        if not condition:
            self.failures.append(what)

    def result(self, host):
        """The host's result of the apply task, or {} when it has none."""
        return self.recorded['results'].get(host, {}).get(APPLY, {})

    def forbc_plan(self, forbc, host, manifest=None, state_root=None):
        """forbc plan --detailed-exitcode on the host's state dir: 0 converged, 2 changes pending."""
        profile, default = self.fleet[host]
        state = os.path.join(state_root or os.path.join(self.tmp, 'state'), host)
        argv = [forbc, 'plan', manifest or default, '--detailed-exitcode', '--simulate', profile, '--state-dir', state]
        return subprocess.run(argv, capture_output=True, text=True).returncode


def check_hosts(run, args):
    for host in args.changed:
        recap, result = run.recap.get(host, {}), run.result(host)
        run.check(recap.get('failed') == 0 and recap.get('changed', 0) >= 1 and result.get('changed') is True
                  and result.get('actions', 0) > 0,
                  '%s changed (recap %s, %s action(s))' % (host, recap, result.get('actions')))
    for host in args.unchanged:
        recap, result = run.recap.get(host, {}), run.result(host)
        run.check(recap.get('failed') == 0 and recap.get('changed') == 0 and result.get('changed') is False
                  and result.get('actions') == 0, '%s unchanged (recap %s)' % (host, recap))
    for host in args.failed:
        recap, result = run.recap.get(host, {}), run.result(host)
        run.check(recap.get('failed') == 1 and result.get('rc') == 1 and bool(result.get('msg')),
                  '%s failed with rc 1 (recap %s)' % (host, recap))
    if args.failed_signal:
        host, signal = args.failed_signal[0], int(args.failed_signal[1])
        recap, result = run.recap.get(host, {}), run.result(host)
        run.check(recap.get('failed') == 1 and result.get('rc') == -signal,
                  '%s failed, forbc killed by signal %d (rc %s)' % (host, signal, result.get('rc')))
    for host in args.written:
        result = run.result(host)
        run.check(result.get('manifest_written') is True, '%s wrote its new manifest' % host)
    for host in args.kept:
        result = run.result(host)
        run.check(result.get('manifest_changed') is True and result.get('manifest_written') is False,
                  '%s kept its old manifest (content differed, not written)' % host)
    for host in args.untouched:
        state = os.path.join(args.state_root or os.path.join(run.tmp, 'state'), host)
        run.check(host not in run.recap and not run.result(host) and not os.path.exists(state),
                  '%s untouched (not in the recap, no state dir)' % host)


def check_texts(run, args):
    for host, pattern in args.located:
        message = run.result(host).get('msg', '')
        run.check(re.search(pattern, message) is not None, '%s: %r matches %r' % (host, message[:160], pattern))
    if args.warned:
        host, text = args.warned
        warnings = run.result(host).get('warnings', [])
        run.check(any(text in warning for warning in warnings), '%s warns %r (%s)' % (host, text, warnings))
    for pair in args.plans + args.diffs:
        host, planned = pair.split(':', 1)
        header = "Plan for host '%s' (simulated): " % planned
        result = run.result(host)
        prepared = [part.get('prepared', '') for part in result.get('diff', [])]
        shown = header in run.log and any(text.startswith(header) for text in prepared)
        if pair in args.plans:
            plan = result.get('plan', {})
            run.check(shown and plan.get('host') == planned and len(plan.get('actions', [])) > 0,
                      '%s: --diff shows %r and the result has its plan' % (host, header))
        else:
            run.check(shown, '%s: --diff shows %r' % (host, header))
    if args.plays is not None:
        plays = run.recorded['plays']
        run.check(plays == args.plays, '%d batch(es) (plays started), %d expected' % (plays, args.plays))


def check_state(run, args):
    if args.pending:
        forbc, hosts = args.pending[0], args.pending[1:]
        for host in hosts:
            run.check(run.forbc_plan(forbc, host, state_root=args.state_root) == 2,
                      '%s: forbc plan still has changes (nothing applied)' % host)
    if args.converged:
        forbc, hosts = args.converged[0], args.converged[1:]
        for host in hosts:
            run.check(run.forbc_plan(forbc, host, state_root=args.state_root) == 0,
                      '%s: forbc plan is empty (converged)' % host)
    for forbc, host, manifest in args.converged_with:
        run.check(run.forbc_plan(forbc, host, manifest) == 0, '%s: forbc plan of %s is empty' % (host, manifest))
    for path, reference in args.file_is:
        with open(reference, 'rb') as handle:
            expected = handle.read()
        try:
            with open(path, 'rb') as handle:
                found = handle.read()
        except OSError as error:
            found = str(error).encode()
        folder, name = os.path.split(path)
        left = [entry for entry in os.listdir(folder) if entry.startswith('.%s.forbc_apply-' % name)]
        run.check(found == expected and not left,
                  '%s holds the bytes of %s (%d bytes, %d expected), no temporary copy left %s'
                  % (path, reference, len(found), len(expected), left))
    if args.absent_file:
        run.check(not os.path.exists(args.absent_file), '%s not written' % args.absent_file)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('tmp')
    parser.add_argument('name')
    parser.add_argument('--rc', type=int)
    for option in ('changed', 'unchanged', 'failed', 'untouched', 'plans', 'diffs', 'pending', 'converged', 'written',
                   'kept'):
        parser.add_argument('--' + option, nargs='+', default=[])
    parser.add_argument('--located', nargs=2, action='append', default=[])
    parser.add_argument('--converged-with', nargs=3, action='append', default=[])
    parser.add_argument('--file-is', nargs=2, action='append', default=[])
    parser.add_argument('--failed-signal', nargs=2)
    parser.add_argument('--warned', nargs=2)
    parser.add_argument('--absent-file')
    parser.add_argument('--state-root')
    parser.add_argument('--plays', type=int)
    args = parser.parse_args()
    run = Run(args.tmp, args.name)
    run.check(run.printed == run.recap, 'the PLAY RECAP printed has the recorded counts')
    if args.rc is not None:
        run.check(run.rc == args.rc, 'ansible-playbook exited %d, %d expected' % (run.rc, args.rc))
    check_hosts(run, args)
    check_texts(run, args)
    check_state(run, args)
    if run.failures:
        print('ansible: %s: %d check(s) failed' % (run.name, len(run.failures)), file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
