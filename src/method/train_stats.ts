/**
 * How one task's training ran (`TrainResult.stats`): its speed with the first step's warm-up
 * apart, the most tensor memory a step held, and the machine. A record of the run, not of what
 * it computed: it stays out of cache keys, and a cached job keeps the figures of the run that
 * made it.
 */
import { type MeasuredOn, parseMeasuredOn } from "../clip/machine.ts";
import {
  type BackendMemory,
  steadyItemsPerSecond,
  steadyUnitsPerSecond,
  storedFigures,
  type Throughput,
} from "../clip/measure.ts";

export interface TrainRunStats {
  measuredOn: MeasuredOn;
  batchSize: number;
  /** Optimiser steps run. */
  steps: number;
  /** Wall-clock seconds of all steps (data, forward, backward, update, loss read-back). */
  seconds: number;
  /** Seconds of step 1 alone: kernel compilation, first allocations (not in the rates). */
  firstStepSeconds: number;
  /** Steps per second over steps 2..steps; null after one step. */
  stepsPerSecond: number | null;
  /** Training images per second over steps 2..steps (steps/s x batch size); null after one step. */
  imagesPerSecond: number | null;
  /**
   * Most bytes of tensors held at once during the steps: model weights, adapters, optimiser state
   * and the step's activations and gradients (the tfjs engine's count, the same on every backend).
   */
  peakTensorBytes: number;
  /** The backend's own memory figure after the last step (a process high-water mark), if any. */
  backendMemory: BackendMemory | null;
  /** Whether the encoders ran with per-block gradient checkpointing (less memory, more time). */
  checkpoint: boolean;
}

/** The record of a finished loop timed by a `ThroughputMeter` (units = steps, items = images). */
export function trainRunStats(
  throughput: Throughput,
  options: {
    measuredOn: MeasuredOn;
    batchSize: number;
    peakTensorBytes: number;
    backendMemory: BackendMemory | null;
    checkpoint: boolean;
  },
): TrainRunStats {
  return {
    measuredOn: options.measuredOn,
    batchSize: options.batchSize,
    steps: throughput.units,
    seconds: throughput.seconds,
    firstStepSeconds: throughput.firstUnitSeconds,
    stepsPerSecond: steadyUnitsPerSecond(throughput),
    imagesPerSecond: steadyItemsPerSecond(throughput),
    peakTensorBytes: options.peakTensorBytes,
    backendMemory: options.backendMemory,
    checkpoint: options.checkpoint,
  };
}

/**
 * A `TrainRunStats` read back from a job record, or null when there is none or it lacks a figure
 * (a job recorded before the figures were): the tables then show a dash and say how many of the
 * run's jobs were measured.
 */
export function parseTrainRunStats(value: unknown): TrainRunStats | null {
  const record = storedFigures(value, {
    numbers: ["batchSize", "steps", "seconds", "firstStepSeconds", "peakTensorBytes"],
    nullable: ["stepsPerSecond", "imagesPerSecond"],
  });
  if (record === null || parseMeasuredOn(record.measuredOn) === null) return null;
  const memory = storedFigures(record.backendMemory, { numbers: ["bytes"] });
  if (record.backendMemory !== null && memory === null) return null;
  return typeof record.checkpoint === "boolean" ? record as unknown as TrainRunStats : null;
}
