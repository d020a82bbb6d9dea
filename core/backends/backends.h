// Which backend a run uses, and the only place that names the CPU backend: the
// device registry (a device backend registers itself; the CUDA module is opened on
// first use), the per-model backend each option set shares, and make_engine, which
// gives an Engine the backend its options ask for. The engine layer below never
// chooses a backend; the analyses, the CLI and the app above come through here.
#pragma once

#include <memory>
#include <string>

#include "core/cpu/cpu_backend.h"
#include "core/engine/engine.h"

namespace ls {

// Which backend runs a forward, and the CPU backend's own switches (threads, the
// plain-loop and row-by-row paths): the engine never reads them.
struct BackendRequest {
  // "cpu", a registered device backend ("cuda"), or "auto" (the device backend when
  // one is built in and finds a device, else the CPU).
  std::string kind = "cpu";
  CpuOptions cpu;
};

// A device backend's maker (gpu/: register_cuda_backend); an error when no device is usable.
using DeviceBackendFactory = Result<std::unique_ptr<Backend>> (*)();
// Registers a device backend under `name`; programs that link gpu/ call it at start.
void register_device_backend(const std::string& name, DeviceBackendFactory factory);
// The backend `wanted` (a BackendRequest's kind) resolves to for this precision ("cpu", "cuda"), or an
// error (an unknown or unbuilt backend, no device, a device backend in f64).
Result<std::string> resolve_backend(const std::string& wanted, bool f64);

// The backend `request` asks for at this precision ("auto" picks the CPU for f64),
// made on the first call for this model and kept with the model after. A backend
// that cannot be made comes back with `uploaded` holding the reason.
std::shared_ptr<SharedBackend> backend_for(const Model& model, const BackendRequest& request = {},
                                           Precision precision = Precision::F32);
// What the backend `request` picks for `model` can still allocate: the device's free
// memory (after the weights) for a device backend, the host's for the CPU; the
// host's when that backend cannot be made.
size_t backend_memory_available(const Model& model, const BackendRequest& request);

// What the CPU backend runs on, for `info` and benchmarks: its attention kernel's
// instruction set ("avx512", "avx2", "generic") and the BLAS library with its kernels.
struct CpuDescription {
  std::string attention_isa, blas;
};
CpuDescription cpu_description();

// An engine on the backend `request` asks for (backend_for).
Result<std::unique_ptr<Engine>> make_engine(std::shared_ptr<const Model> model, const EngineOptions& opts, int capacity,
                                            Precision precision = Precision::F32, const BackendRequest& request = {});
// An engine on a backend of the caller's.
Result<std::unique_ptr<Engine>> make_engine(std::shared_ptr<const Model> model, const EngineOptions& opts, int capacity,
                                            Precision precision, std::shared_ptr<SharedBackend> backend);
// The micro-batch an engine of `capacity` tokens will use (opts.chunk, or the backend's choice).
int engine_chunk(const Model& model, const EngineOptions& opts, const BackendRequest& request, int capacity,
                 Precision precision);

}  // namespace ls
