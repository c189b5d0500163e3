# -*- coding: utf-8 -*-
"""The Ansible test's record of a playbook run (Tests/Ansible/run): each host's result of each task, whole (with its
diff), the per-host counts of PLAY RECAP and the number of plays (one per serial batch), written as JSON to
$FORBC_ANSIBLE_RESULTS when the run ends. ansible-core has no JSON callback of its own (ansible.posix's is a separate
collection) and its tree callback keeps one result per host without the diff."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = '''
    name: forbc_results
    type: aggregate
    short_description: every task result and the recap counts as one JSON file (forbc's Ansible test)
    description: Writes the file named by the environment variable FORBC_ANSIBLE_RESULTS when the run ends.
    requirements:
      - enabled in callbacks_enabled
'''

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'forbc_results'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.results, self.plays = {}, 0

    def record(self, result, status):
        entry = dict(result._result)
        entry['status'] = status
        self.results.setdefault(result._host.get_name(), {})[result._task.get_name()] = entry

    def v2_playbook_on_play_start(self, play):
        self.plays += 1

    def v2_runner_on_ok(self, result):
        self.record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self.record(result, 'failed')

    def v2_runner_on_unreachable(self, result):
        self.record(result, 'unreachable')

    def v2_runner_on_skipped(self, result):
        self.record(result, 'skipped')

    def v2_playbook_on_stats(self, stats):
        recap = {host: stats.summarize(host) for host in sorted(stats.processed)}
        document = dict(plays=self.plays, recap=recap, results=self.results)
        with open(os.environ['FORBC_ANSIBLE_RESULTS'], 'w') as handle:
            json.dump(document, handle, default=str, sort_keys=True, indent=1)
