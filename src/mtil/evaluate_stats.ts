/**
 * How one evaluation ran (`Evaluation.stats`): images per second with the first batch's warm-up
 * apart, the batch size and the engine and machine. A record of the run, not of the accuracy it
 * computed: it stays out of cache keys.
 */
import { type MeasuredOn, parseMeasuredOn } from "../clip/machine.ts";
import { steadyItemsPerSecond, storedFigures, type Throughput } from "../clip/measure.ts";

export interface EvaluateRunStats {
  /** The engine (`tfjs`, ...), its backend or device, and the machine. */
  measuredOn: MeasuredOn;
  batchSize: number;
  images: number;
  batches: number;
  /** Wall-clock seconds of all batches: reading, normalising, encoding and scoring. */
  seconds: number;
  /** Seconds and images of the first batch (kernel compilation, first allocations). */
  firstBatchSeconds: number;
  firstBatchImages: number;
  /** Images per second over the batches after the first; null with a single batch. */
  imagesPerSecond: number | null;
}

/** The record of an evaluation timed by a `ThroughputMeter` (units = batches, items = images). */
export function evaluateRunStats(
  throughput: Throughput,
  options: { measuredOn: MeasuredOn; batchSize: number },
): EvaluateRunStats {
  return {
    measuredOn: options.measuredOn,
    batchSize: options.batchSize,
    images: throughput.items,
    batches: throughput.units,
    seconds: throughput.seconds,
    firstBatchSeconds: throughput.firstUnitSeconds,
    firstBatchImages: throughput.firstUnitItems,
    imagesPerSecond: steadyItemsPerSecond(throughput),
  };
}

/** An `EvaluateRunStats` read back from a job record, or null when there is none or it is partial. */
export function parseEvaluateRunStats(value: unknown): EvaluateRunStats | null {
  const record = storedFigures(value, {
    numbers: ["batchSize", "images", "batches", "seconds", "firstBatchSeconds", "firstBatchImages"],
    nullable: ["imagesPerSecond"],
  });
  if (record === null || parseMeasuredOn(record.measuredOn) === null) return null;
  return record as unknown as EvaluateRunStats;
}
