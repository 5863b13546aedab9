"""A task queue that holds what the worker queues (its json/xml piece tasks) instead of delivering it, so a test
delivers each task in any order, twice, late or never: what Cloud Tasks may do."""

from __future__ import annotations


class HeldTasks:
    def __init__(self):
        self.tasks: dict[str, dict] = {}

    def enqueue(self, name, payload):
        if name in self.tasks:
            return False  # a task name is taken once, as on Cloud Tasks
        self.tasks[name] = dict(payload)
        return True
