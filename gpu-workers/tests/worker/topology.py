"""JetStream topology for tests without the TypeScript services.

The one place the Python tests provision streams and consumers, with the settings of
``libs/messaging/src/topology.ts`` (``STREAM_CONFIGS`` and ``workerConsumerConfig``).
"""

from __future__ import annotations

from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from hounsfield.contracts.subjects import (
    STREAM_ASSIGN,
    STREAM_EVENTS,
    STREAM_LOGS,
    assign_subject,
    worker_consumer,
)

DAY_SECONDS = 24 * 60 * 60
DUPLICATE_WINDOW_SECONDS = 10 * 60
LOGS_DUPLICATE_WINDOW_SECONDS = 2 * 60
LOGS_MAX_AGE_SECONDS = 60 * 60
LOGS_MAX_BYTES = 512 * 1024 * 1024
LOGS_MAX_MESSAGE_BYTES = 1024 * 1024

STREAMS = (
    StreamConfig(
        name=STREAM_ASSIGN,
        subjects=["hf.assign.>"],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        max_age=7 * DAY_SECONDS,
    ),
    StreamConfig(
        name=STREAM_EVENTS,
        subjects=["hf.events.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        max_age=14 * DAY_SECONDS,
        max_msgs_per_subject=200_000,
    ),
    StreamConfig(
        name=STREAM_LOGS,
        subjects=["hf.logs.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        duplicate_window=LOGS_DUPLICATE_WINDOW_SECONDS,
        max_age=LOGS_MAX_AGE_SECONDS,
        max_bytes=LOGS_MAX_BYTES,
        max_msg_size=LOGS_MAX_MESSAGE_BYTES,
    ),
)


def worker_consumer_config(worker_id: str) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=worker_consumer(worker_id),
        filter_subject=assign_subject(worker_id),
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=60,
        max_deliver=-1,
    )


async def provision_streams(js: JetStreamContext) -> None:
    """Creates or updates every stream (idempotent, like the services' boot)."""
    for config in STREAMS:
        assert config.name is not None
        try:
            await js.stream_info(config.name)
            await js.update_stream(config)
        except NotFoundError:
            await js.add_stream(config)


async def ensure_worker_consumer(js: JetStreamContext, worker_id: str) -> None:
    """What the scheduler does on a worker's first heartbeat."""
    try:
        await js.consumer_info(STREAM_ASSIGN, worker_consumer(worker_id))
    except NotFoundError:
        await js.add_consumer(STREAM_ASSIGN, worker_consumer_config(worker_id))
