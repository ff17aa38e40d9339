"""A Dask worker preload (``dask worker --preload noshare_flip``) that corrupts results in
transit: for a run whose name contains ``flip``, it flips one byte of the first output file
in the task's result after the worker has stored it, before the driver fetches it."""

from __future__ import annotations

import dataclasses
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin


class FlipPlugin(WorkerPlugin):
    name = "noshare-flip"

    def setup(self, worker: Any) -> None:
        self.worker = worker

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish != "memory":
            return
        done = self.worker.data.get(key)
        shipment = getattr(done, "shipment", None)
        if shipment is None or "flip" not in done.name:
            return
        files = list(shipment.files)
        for n, blob in enumerate(files):
            if blob.data and blob.path.endswith(".csv"):
                flipped = bytes([blob.data[0] ^ 1]) + blob.data[1:]
                files[n] = dataclasses.replace(blob, data=flipped)
                break
        changed = dataclasses.replace(shipment, files=tuple(files))
        self.worker.data[key] = dataclasses.replace(done, shipment=changed)


async def dask_setup(worker: Any) -> None:
    await worker.plugin_add(FlipPlugin())
