"""tf.distribute for training: which strategy, who writes, and how one length-bucketed batch is split over replicas.

Strategies (`train.strategy`, or `asr train --strategy`):
    default       one device, no distribution (training exactly as without this module)
    mirrored      tf.distribute.MirroredStrategy: every GPU of this host (or the CPU when it has none)
    multi_worker  tf.distribute.MultiWorkerMirroredStrategy: the hosts named in the TF_CONFIG environment variable

The global batch. A training step takes one batch of `asr.training.data.make_batches`, the same length-bucketed batch, in
the same order, that single-device training takes: batch_frames and max_batch_size are global budgets. The batch
is split along the batch axis into num_replicas_in_sync near-equal contiguous parts (`replica_parts`: replica r
takes part r), each padded to its own longest clip and carrying its own feature and label lengths. Each worker
pads only its own replicas' parts (`distribute_batches`): that is the sharding; every worker reads the same
manifests and computes the same batch order from the seed.

The loss. Every utterance of a global batch of B utterances carries the weight 1/B, and a replica's loss is
sum(weight * CTC loss) over its part, so the sum over replicas is the mean over the global batch: the gradients,
summed over replicas, equal the single-device gradient. A replica whose part would be empty (a batch with fewer
clips than replicas) gets one clip with weight 0. Global-norm clipping is applied to the summed gradient
(Keras would clip each replica's part before summing: see AllReducedAdam).

Who writes. The chief (`is_chief`: the only worker of default and mirrored; worker 0 of multi_worker, or the
task of type "chief" if TF_CONFIG has one) writes everything under the experiment directory: config, feature
cache, checkpoints, model directories, TensorBoard logs, train_log.jsonl. The other workers write nothing there:
they read the configuration, feature cache and checkpoint the chief wrote (`chief_first`), so the experiment
directory must be on storage every worker can read (a shared file system), as TensorFlow's own multi-worker
checkpoints require; `same_on_all_workers` turns a worker that sees something else into an error, not a hang.
"""
from __future__ import annotations

import contextlib
import json
import os
import zlib

import keras
import numpy as np
import tensorflow as tf

from asr.config import STRATEGIES
from asr.training.data import FeatureSet, pad_batch


class StrategyError(Exception):
    """A strategy that cannot start, or workers that disagree: reported in one line."""


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy called `name`. Create it before TensorFlow runs anything: multi_worker sets up its
    collectives at program start."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise StrategyError("the multi_worker strategy needs the TF_CONFIG environment variable (the cluster's "
                             "workers and this one's task); see recipes/README.md")
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
        # AUTO: TensorFlow picks the collectives' implementation (on CPUs: ring all-reduce over gRPC)
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.AUTO)
        return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver, communication_options=options)
    raise StrategyError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes checkpoints, model directories and logs (TensorFlow's own answer)."""
    return bool(strategy.extended.should_checkpoint)


def num_workers(strategy: tf.distribute.Strategy) -> int:
    """Processes taking part in training (1 unless multi-worker)."""
    resolver = strategy.cluster_resolver
    if resolver is None:
        return 1
    spec = resolver.cluster_spec().as_dict()
    return sum(len(spec.get(job, [])) for job in ("chief", "worker")) or 1


def replica_parts(indices, num_replicas: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split one global batch (utterance indices) along the batch axis into `num_replicas` (indices, weights)
    parts: contiguous, sizes differing by at most one, every utterance weighted 1 / len(indices). An empty part
    becomes the batch's first utterance with weight 0 (every replica must take part in the step)."""
    indices = np.asarray(indices)
    weight = np.float32(1.0 / len(indices))
    parts = []
    for part in np.array_split(indices, num_replicas):
        if len(part):
            parts.append((part, np.full(len(part), weight, np.float32)))
        else:
            parts.append((indices[:1], np.zeros(1, np.float32)))
    return parts


def batch_signature(num_mels: int) -> tuple[tf.TensorSpec, ...]:
    """One replica's part: features [b, t, mels], feature lengths [b], labels [b, l], label lengths [b],
    weights [b]."""
    return (tf.TensorSpec([None, None, num_mels], tf.float32), tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.float32))


def distribute_batches(strategy: tf.distribute.Strategy, features: FeatureSet, labels, batches):
    """A distributed dataset whose every element is one global batch of `batches`, split by `replica_parts`.

    Each worker's input pipeline pads only the parts of its own replicas, in replica order (the strategy hands
    a worker's consecutive elements to its replicas in turn). The dataset repeats without end: take exactly
    len(batches) elements, so that workers need no per-step check that all of them still have data.
    """
    signature = batch_signature(features.frames.shape[1])

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        local = context.num_replicas_in_sync // context.num_input_pipelines
        first = context.input_pipeline_id * local

        def generate():
            for indices in batches:
                for part, weights in replica_parts(indices, context.num_replicas_in_sync)[first:first + local]:
                    yield (*pad_batch(features, labels, part), weights)

        return tf.data.Dataset.from_generator(generate, output_signature=signature).repeat().prefetch(2)

    return strategy.distribute_datasets_from_function(dataset_fn)


def element_spec(strategy: tf.distribute.Strategy, num_mels: int):
    """The type of distribute_batches' elements (one per replica of batch_signature), for tf.function."""
    empty = FeatureSet([], [], np.zeros([0, num_mels], np.float16), np.zeros(1, np.int64))
    return distribute_batches(strategy, empty, [], []).element_spec


class AllReducedAdam(keras.optimizers.Adam):
    """Adam for gradients that the train step has already summed over replicas and clipped.

    Keras' optimizer, called in a replica, clips each replica's gradient and then sums them; clipping by global
    norm must see the summed gradient to match single-device training. So the step all-reduces and clips, and
    this optimizer skips Keras' own all-reduce. Its variables are Adam's, in the same order: checkpoints move
    between strategies."""

    def __init__(self, **kwargs):
        if not hasattr(keras.optimizers.Adam, "_all_reduce_sum_gradients"):  # an error, not wrong gradients
            raise RuntimeError("this Keras version no longer all-reduces gradients in "
                               "Optimizer._all_reduce_sum_gradients: asr.training.distribute.AllReducedAdam needs updating")
        super().__init__(**kwargs)

    def _all_reduce_sum_gradients(self, grads_and_vars):
        return list(grads_and_vars)


def _agree(strategy: tf.distribute.Strategy, value: float) -> bool:
    """Whether every replica passed the same value (a float32 exactly); all workers wait for each other here."""

    def replica_fn(value):
        ctx = tf.distribute.get_replica_context()
        first = tf.cast(tf.equal(ctx.replica_id_in_sync_group, 0), tf.float32)
        firsts = ctx.all_reduce(tf.distribute.ReduceOp.SUM, value * first)
        return ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(tf.not_equal(firsts, value), tf.float32))

    differ = tf.function(lambda v: strategy.run(replica_fn, args=(v,)))(tf.constant(value, tf.float32))
    return float(strategy.experimental_local_results(differ)[0]) == 0.0


def same_on_all_workers(strategy: tf.distribute.Strategy, summary: dict) -> bool:
    """Whether every worker holds the same `summary` (a JSON-able dict; compared by a 24-bit checksum)."""
    if num_workers(strategy) == 1:
        return True
    checksum = zlib.crc32(json.dumps(summary, sort_keys=True).encode()) % 2 ** 24
    return _agree(strategy, float(checksum))


@contextlib.contextmanager
def chief_first(strategy: tf.distribute.Strategy):
    """The chief runs the body (which writes files) before the other workers run theirs (which read them)."""
    many = num_workers(strategy) > 1
    if many and not is_chief(strategy):
        _agree(strategy, 0.0)
    yield
    if many and is_chief(strategy):
        _agree(strategy, 0.0)
