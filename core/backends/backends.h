// Which backend a run uses, and the only place that names the CPU backend: the
// device registry (a device backend registers itself; the CUDA module is opened on
// first use), the per-model backend each option set shares, and make_engine, which
// gives an Engine the backend its options ask for. The engine layer below never
// chooses a backend; the analyses, the CLI and the app above come through here.
#pragma once

#include <memory>
#include <string>

#include "core/engine/engine.h"

namespace ls {

// A device backend's maker (gpu/: register_cuda_backend); an error when no device is usable.
using DeviceBackendFactory = Result<std::unique_ptr<Backend>> (*)();
// Registers a device backend under `name`; programs that link gpu/ call it at start.
void register_device_backend(const std::string& name, DeviceBackendFactory factory);
// The backend opts.backend resolves to for this precision ("cpu", "cuda"), or an
// error (an unknown or unbuilt backend, no device, a device backend in f64).
Result<std::string> resolve_backend(const std::string& wanted, bool f64);

// The backend `opts` asks for (threads, naive, row attention; opts.backend) at this
// precision ("auto" picks the CPU for f64), made on the first call for this model and
// kept with the model after. A backend that cannot be made comes back with
// `uploaded` holding the reason.
std::shared_ptr<SharedBackend> backend_for(const Model& model, const EngineOptions& opts,
                                           Precision precision = Precision::F32);
// What the backend `opts` picks for `model` can still allocate: the device's free
// memory (after the weights) for a device backend, the host's for the CPU; the
// host's when that backend cannot be made.
size_t backend_memory_available(const Model& model, const EngineOptions& opts);

// What the CPU backend runs on, for `info` and benchmarks: its attention kernel's
// instruction set ("avx512", "avx2", "generic") and the BLAS library with its kernels.
struct CpuDescription {
  std::string attention_isa, blas;
};
CpuDescription cpu_description();

// An engine on the backend `opts` asks for (backend_for), or on `backend` when given.
Result<std::unique_ptr<Engine>> make_engine(std::shared_ptr<const Model> model, const EngineOptions& opts, int capacity,
                                            Precision precision = Precision::F32,
                                            std::shared_ptr<SharedBackend> backend = nullptr);
// The micro-batch an engine of `capacity` tokens will use (opts.chunk, or the backend's choice).
int engine_chunk(const Model& model, const EngineOptions& opts, int capacity, Precision precision);

}  // namespace ls
