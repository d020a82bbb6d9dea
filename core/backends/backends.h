// Which backend a run uses, and the only place that names the CPU backend: the
// device registry (a device backend registers itself; the CUDA module is opened on
// first use), the cache of per-model backends each option set shares, and make_engine, which
// gives an Engine the backend its options ask for. The engine layer below never
// chooses a backend; the analyses, the CLI and the app above come through here.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

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

// The backends made for models, one per model and request, owned by whoever runs
// analyses (the app's worker, a CLI command): every run through one cache on a model
// shares one upload of its weights. The model stays as loaded (nothing is attached
// to it); a model's backends go with the first lookup after the model is gone.
class BackendCache {
 public:
  // The backend of `kind` ("cpu" or a registered device backend; resolved already)
  // for `model`, made on the first call. One that cannot be made is not kept.
  std::shared_ptr<SharedBackend> get(const std::shared_ptr<const Model>& model, const std::string& kind,
                                     const CpuOptions& cpu);
  size_t size() const;

 private:
  struct Entry {
    std::weak_ptr<const Model> model;
    std::shared_ptr<SharedBackend> backend;
  };
  mutable std::mutex mu_;
  std::map<std::pair<const Model*, std::string>, Entry> entries_;
};

// The backend `request` asks for at this precision ("auto" picks the CPU for f64):
// from `cache` (made there on the first call), or a new one when there is none. A
// backend that cannot be made comes back with `uploaded` holding the reason.
std::shared_ptr<SharedBackend> backend_for(const std::shared_ptr<const Model>& model, const BackendRequest& request = {},
                                           DType precision = DType::F32, BackendCache* cache = nullptr);
// What the backend `request` picks for `model` can still allocate: the device's free
// memory (after the weights) for a device backend, the host's for the CPU; the
// host's when that backend cannot be made.
size_t backend_memory_available(const std::shared_ptr<const Model>& model, const BackendRequest& request,
                                BackendCache* cache = nullptr);

// What the CPU backend runs on, for `info` and benchmarks: its attention kernel's
// instruction set ("avx512", "avx2", "generic") and the BLAS library with its kernels.
struct CpuDescription {
  std::string attention_isa, blas;
  // When OpenBLAS runs kernels older than this CPU supports: the OPENBLAS_CORETYPE
  // value that selects the CPU's own (SkylakeX, Haswell); empty otherwise.
  std::string blas_better;
};
CpuDescription cpu_description();

// An engine on the backend `request` asks for (backend_for, through `cache` when given).
Result<std::unique_ptr<Engine>> make_engine(std::shared_ptr<const Model> model, const EngineOptions& opts, int capacity,
                                            DType precision = DType::F32, const BackendRequest& request = {},
                                            BackendCache* cache = nullptr);
// An engine on a backend of the caller's.
Result<std::unique_ptr<Engine>> make_engine(std::shared_ptr<const Model> model, const EngineOptions& opts, int capacity,
                                            DType precision, std::shared_ptr<SharedBackend> backend);
// The micro-batch an engine of `capacity` tokens will use (opts.chunk, or the backend's choice).
int engine_chunk(const std::shared_ptr<const Model>& model, const EngineOptions& opts, const BackendRequest& request,
                 int capacity, DType precision, BackendCache* cache = nullptr);

}  // namespace ls
