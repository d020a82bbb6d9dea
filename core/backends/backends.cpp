#include "core/backends/backends.h"

#if defined(LONGSCOPE_CUDA_MODULE)
#include <dlfcn.h>
#endif

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include "core/cpu/blas_info.h"
#include "core/cpu/cpu_backend.h"
#include "core/util/memory.h"

namespace ls {

namespace {

struct DeviceRegistry {
  std::mutex mu;
  std::map<std::string, DeviceBackendFactory> factories;
  std::map<std::string, bool> usable;  // whether the factory found a device (asked once)
};
DeviceRegistry& device_registry() {
  static DeviceRegistry r;
  return r;
}

}  // namespace

void register_device_backend(const std::string& name, DeviceBackendFactory factory) {
  std::lock_guard<std::mutex> lock(device_registry().mu);
  device_registry().factories[name] = factory;
}

#if defined(LONGSCOPE_CUDA_MODULE)
namespace {

// The CUDA backend module (gpu/cuda_module.cpp), opened on first use: programs map
// the CUDA libraries only when a run asks for them. LONGSCOPE_CUDA_MODULE in the
// environment names another copy.
using ModuleEntry = Backend* (*)(char*, size_t);
ModuleEntry g_cuda_entry = nullptr;
std::string g_cuda_module_error;

Result<std::unique_ptr<Backend>> make_module_cuda_backend() {
  if (!g_cuda_entry) return make_error(g_cuda_module_error);
  char err[512] = {0};
  Backend* b = g_cuda_entry(err, sizeof err);
  if (!b) return make_error(err);
  return std::unique_ptr<Backend>(b);
}

// Registers "cuda" once (the registry's lock held): the module's factory, or one
// that reports why the module could not be opened.
void load_cuda_module_locked(std::map<std::string, DeviceBackendFactory>& factories) {
  static bool tried = false;
  if (tried || factories.count("cuda")) return;
  tried = true;
  const char* env = std::getenv("LONGSCOPE_CUDA_MODULE");
  const std::string path = env && *env ? env : LONGSCOPE_CUDA_MODULE;
  if (void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
    g_cuda_entry = reinterpret_cast<ModuleEntry>(dlsym(h, "longscope_cuda_backend_new"));
    if (!g_cuda_entry) g_cuda_module_error = path + " has no longscope_cuda_backend_new";
  } else {
    const char* why = dlerror();
    g_cuda_module_error = "the CUDA backend module could not be loaded (" + std::string(why ? why : path) + ")";
  }
  factories["cuda"] = &make_module_cuda_backend;
}

}  // namespace
#endif

Result<std::string> resolve_backend(const std::string& wanted, bool f64) {
  if (wanted == "cpu") return std::string("cpu");
  DeviceRegistry& r = device_registry();
  std::lock_guard<std::mutex> lock(r.mu);
#if defined(LONGSCOPE_CUDA_MODULE)
  if (wanted == "cuda" || wanted == "auto") load_cuda_module_locked(r.factories);
#endif
  if (wanted == "auto") {
    if (f64) return std::string("cpu");  // device backends run in f32
    for (const auto& [name, make] : r.factories) {
      auto it = r.usable.find(name);
      if (it == r.usable.end()) it = r.usable.emplace(name, make().ok()).first;
      if (it->second) return name;
    }
    return std::string("cpu");
  }
  if (!r.factories.count(wanted))
    return make_error("backend \"" + wanted + "\" is not built into this program (" +
                      (r.factories.empty() ? std::string("it was built without a CUDA toolkit; ") : std::string()) +
                      "choose cpu or auto)");
  if (f64) return make_error("the " + wanted + " backend runs in f32; f64 runs on the cpu backend");
  return wanted;
}

namespace {

// The key of a request's backend: its kind and the CPU's options.
std::string backend_key(const std::string& kind, const CpuOptions& cpu) {
  if (kind != "cpu") return kind;
  return "cpu/threads=" + std::to_string(cpu.threads) + (cpu.naive ? "/naive" : "") +
         (cpu.attention == CpuAttention::Rows ? "/rows" : "") + (cpu.isa.empty() ? "" : "/" + cpu.isa);
}

// A new backend of `kind` ("cpu" or a registered device backend) with `model` uploaded.
std::shared_ptr<SharedBackend> new_backend(const Model& model, const std::string& kind, const CpuOptions& cpu) {
  if (kind == "cpu") return share_backend(std::make_unique<CpuBackend>(cpu), model);
  DeviceBackendFactory make = nullptr;
  {
    std::lock_guard<std::mutex> reg(device_registry().mu);
    make = device_registry().factories.at(kind);
  }
  auto b = make();
  if (!b) {
    auto failed = std::make_shared<SharedBackend>();
    failed->uploaded = make_error(kind + " backend: " + b.error());
    return failed;
  }
  return share_backend(std::move(b.value()), model);
}

std::shared_ptr<SharedBackend> failed_backend(const std::string& why) {
  auto failed = std::make_shared<SharedBackend>();
  failed->uploaded = make_error(why);
  return failed;
}

}  // namespace

std::shared_ptr<SharedBackend> BackendCache::get(const std::shared_ptr<const Model>& model, const std::string& kind,
                                                 const CpuOptions& cpu) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = entries_.begin(); it != entries_.end();)  // the backends of models that are gone
    it = it->second.model.expired() ? entries_.erase(it) : std::next(it);
  Entry& e = entries_[{model.get(), backend_key(kind, cpu)}];
  if (!e.backend) {
    auto made = new_backend(*model, kind, cpu);
    if (!made->uploaded) return made;  // not kept: a later call may find the device free again
    e.model = model;
    e.backend = std::move(made);
  }
  return e.backend;
}

size_t BackendCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

std::shared_ptr<SharedBackend> backend_for(const std::shared_ptr<const Model>& model, const BackendRequest& request,
                                           DType precision, BackendCache* cache) {
  auto which = resolve_backend(request.kind, precision == DType::F64);
  if (!which) return failed_backend(which.error());
  return cache ? cache->get(model, which.value(), request.cpu) : new_backend(*model, which.value(), request.cpu);
}

size_t backend_memory_available(const std::shared_ptr<const Model>& model, const BackendRequest& request,
                                BackendCache* cache) {
  auto which = resolve_backend(request.kind, false);
  if (!which || which.value() == "cpu") return available_memory_bytes();  // makes no CPU backend just to ask
  auto shared = backend_for(model, request, DType::F32, cache);
  if (!shared->uploaded || !shared->backend) return available_memory_bytes();
  std::lock_guard<std::mutex> lock(shared->mu);
  return shared->backend->memory_available();
}

Result<std::unique_ptr<Engine>> make_engine(std::shared_ptr<const Model> model, const EngineOptions& opts, int capacity,
                                            DType precision, const BackendRequest& request, BackendCache* cache) {
  auto backend = backend_for(model, request, precision, cache);
  return Engine::create(std::move(model), opts, capacity, precision, std::move(backend));
}

Result<std::unique_ptr<Engine>> make_engine(std::shared_ptr<const Model> model, const EngineOptions& opts, int capacity,
                                            DType precision, std::shared_ptr<SharedBackend> backend) {
  return Engine::create(std::move(model), opts, capacity, precision, std::move(backend));
}

CpuDescription cpu_description() { return {cpu_attention_isas().front(), blas_description(), blas_better_coretype()}; }

int engine_chunk(const std::shared_ptr<const Model>& model, const EngineOptions& opts, const BackendRequest& request,
                 int capacity, DType precision, BackendCache* cache) {
  auto shared = backend_for(model, request, precision, cache);
  return micro_batch(opts.chunk, shared->backend ? shared->backend->preferred_chunk() : 256, capacity);
}

}  // namespace ls
