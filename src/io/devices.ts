/**
 * What the operating system shows of GPUs, known without creating a device: asking a WebGPU or
 * ONNX Runtime provider for one on a machine without a GPU costs time and prints the driver
 * loader's complaints (Vulkan's "XDG_RUNTIME_DIR is invalid") on stderr.
 */

/** Whether Linux shows a GPU device node (a DRM render node, or NVIDIA's). */
export function gpuDeviceNode(): boolean {
  const present = (dir: string, pattern: RegExp) => {
    try {
      return [...Deno.readDirSync(dir)].some((entry) => pattern.test(entry.name));
    } catch {
      return false;
    }
  };
  return present("/dev/dri", /^renderD\d+$/) || present("/dev", /^nvidia\d+$/);
}

/**
 * Whether a hardware GPU could be there: on Linux only with a device node; elsewhere (macOS's
 * Metal, Windows) there is no cheap test, so asking is worth it.
 */
export function hardwareGpuPossible(): boolean {
  return Deno.build.os !== "linux" || gpuDeviceNode();
}
