// The engine/backend seam (docs/gpu.md, "The seam between the engine and a backend"): one backend per
// model and option set, shared by every engine on the model; each engine owns its
// KV cache and position state; the backend's status is checked once per layer.
// A forwarding backend stands in for a device backend: it implements the interface
// over a CpuBackend and counts what the engine asks of it.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "core/analysis/analysis.h"
#include "core/backends/backends.h"
#include "core/cpu/cpu_backend.h"
#include "core/position/spec.h"
#include "tests/engine/test_support.h"

namespace ls::test {
namespace {

// Every call goes to an inner CPU backend; upload() and sync() are counted, and
// sync() fails once `fail_after` calls have been made (an asynchronous device error).
class ForwardingBackend final : public Backend {
 public:
  CpuBackend in{CpuOptions{}};
  int uploads = 0, syncs = 0, fail_after = -1, chunk = 64;
  int attention_calls = 0, cancel_at_call = -1;  // sets *cancel_flag during that attention call (1-based)
  std::atomic<bool>* cancel_flag = nullptr;
  size_t memory = 0;  // > 0: the free memory this "device" reports
  int matmuls = 0;
  const char* name() const override { return "forwarding"; }
  bool supports(DType act) const override { return act == DType::F32; }  // a device that runs f32 only
  size_t memory_available() const override { return memory ? memory : in.memory_available(); }
  int preferred_chunk() const override { return chunk; }
  Status upload(const Model& m) override {
    ++uploads;
    return in.upload(m);
  }
  Tensor alloc(DType d, size_t n) override { return in.alloc(d, n); }
  void release(const Tensor& t) override { in.release(t); }
  void to_host(const Tensor& s, void* d) override { in.to_host(s, d); }
  void from_host(const void* s, const Tensor& d) override { in.from_host(s, d); }
  Status sync() override {
    if (fail_after >= 0 && syncs++ >= fail_after) return make_error("device: an illegal memory access was encountered");
    return in.sync();
  }
  size_t kv_bytes_per_token(const KvSpec& s) const override { return in.kv_bytes_per_token(s); }
  std::unique_ptr<KvCache> make_cache(const KvSpec& s) override { return in.make_cache(s); }
  Status reserve_kv(KvCache& c, int t, int keep) override { return in.reserve_kv(c, t, keep); }
  void set_positions(KvCache& c, const PositionTables& t, int kind) override { in.set_positions(c, t, kind); }
  void embed(const int* t, int n, const Matrix& tab, int dim, const Tensor& out) override { in.embed(t, n, tab, dim, out); }
  void rmsnorm(const Tensor& x, const float* w, int r, int d, double e, const Tensor& y) override {
    in.rmsnorm(x, w, r, d, e, y);
  }
  void layernorm(const Tensor& x, const float* w, const float* b, int r, int d, double e, const Tensor& y) override {
    in.layernorm(x, w, b, r, d, e, y);
  }
  void matmul(const Tensor& x, int r, int i, const Matrix& W, const float* b, int o, const Tensor& y) override {
    ++matmuls;
    in.matmul(x, r, i, W, b, o, y);
  }
  void swiglu(const Tensor& g, const Tensor& u) override { in.swiglu(g, u); }
  void gelu(const Tensor& x, bool exact) override { in.gelu(x, exact); }
  void geglu(const Tensor& g, const Tensor& u) override { in.geglu(g, u); }
  void scale(const Tensor& x, double s) override { in.scale(x, s); }
  void softcap(const Tensor& x, double cap) override { in.softcap(x, cap); }
  void add(const Tensor& x, const Tensor& y) override { in.add(x, y); }
  void zero(const Tensor& x) override { in.zero(x); }
  void swiglu_oai(const Tensor& g, const Tensor& u, double limit) override { in.swiglu_oai(g, u, limit); }
  void gather_rows(const Tensor& x, const int* r, int n, int d, const Tensor& o) override { in.gather_rows(x, r, n, d, o); }
  void scatter_add_rows(const Tensor& x, const int* r, const float* w, int n, int d, const Tensor& y) override {
    in.scatter_add_rows(x, r, w, n, d, y);
  }
  Status attention(KvCache& c, const AttentionParams& p, const Tensor& q, const Tensor& k, const Tensor& v,
                   const Tensor& out, const AttentionObserver* obs, const std::atomic<bool>* cancel) override {
    if (++attention_calls == cancel_at_call && cancel_flag) cancel_flag->store(true);
    return in.attention(c, p, q, k, v, out, obs, cancel);
  }
  void nll(const Tensor& l, int r, int v, const int* t, double* o, int* rank) override { in.nll(l, r, v, t, o, rank); }
};

// A forwarding backend shared for `m`; `seen` points at it to read its counters.
std::shared_ptr<SharedBackend> forwarding(const Model& m, ForwardingBackend*& seen) {
  auto fwd = std::make_unique<ForwardingBackend>();
  seen = fwd.get();
  return share_backend(std::move(fwd), m);
}

std::vector<double> nll_of(Engine& e, const std::vector<int>& toks) {
  e.reset();
  EXPECT_TRUE(e.forward(toks.data(), (int)toks.size() - 1).ok());
  std::vector<double> out(toks.size() - 1);
  EXPECT_TRUE(e.nll(0, (int)out.size(), toks.data() + 1, out.data()).ok());
  return out;
}

TEST(BackendSeam, OneBackendPerModelAndOptions) {
  auto m = load_ok(bundled_gguf());
  ASSERT_TRUE(m);
  EngineOptions o;
  BackendCache cache;  // the caller's (the app's worker, a CLI command)
  const BackendRequest cpu;
  auto a = make_engine(m, o, 64, DType::F32, cpu, &cache).take(), b = make_engine(m, o, 128, DType::F32, cpu, &cache).take();
  EXPECT_EQ(&a->backend(), &b->backend());  // windows, sweep cells, NBCE rows: one upload
  BackendRequest rows;
  rows.cpu.attention = CpuAttention::Rows;
  EXPECT_NE(&make_engine(m, o, 64, DType::F32, rows, &cache).take()->backend(), &a->backend());
  auto other = load_ok(bundled_gguf());  // another model: its own backend
  EXPECT_NE(&make_engine(other, o, 64, DType::F32, cpu, &cache).take()->backend(), &a->backend());
  // The backend outlives its engines: a later run finds the same one.
  const Backend* first = &a->backend();
  a.reset();
  b.reset();
  EXPECT_EQ(&make_engine(m, o, 32, DType::F32, cpu, &cache).take()->backend(), first);
  // Without a cache an engine gets a backend of its own; a model's backends leave the
  // cache with the model.
  EXPECT_NE(&make_engine(m, o, 32).take()->backend(), first);
  EXPECT_EQ(cache.size(), 3u);
  other.reset();
  auto again = make_engine(m, o, 16, DType::F32, cpu, &cache);
  EXPECT_EQ(cache.size(), 2u);
}

// Activations are views of a runtime dtype: one CPU backend serves f32 and f64
// engines of a model, and each engine's cache and buffers hold its own dtype.
TEST(BackendSeam, OneBackendServesEveryActivationDtype) {
  auto m = load_ok(bundled_gguf());
  ASSERT_TRUE(m);
  EngineOptions o;
  BackendCache cache;
  auto f32 = make_engine(m, o, 64, DType::F32, {}, &cache).take(), f64 = make_engine(m, o, 64, DType::F64, {}, &cache).take();
  EXPECT_EQ(&f32->backend(), &f64->backend());
  EXPECT_EQ(f32->activations(), DType::F32);
  EXPECT_EQ(f64->activations(), DType::F64);
  const std::vector<int> toks = story_tokens(48);
  const auto a = nll_of(*f32, toks), b = nll_of(*f64, toks);
  ASSERT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  EXPECT_LT(worst, 1e-3);
  EXPECT_GT(worst, 0.0);  // two precisions really ran
  // f32 and f64 engines cannot share a batch.
  const int t[] = {1, 1};
  auto st = Engine::forward_each({f32.get(), f64.get()}, t);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("one precision"), std::string::npos) << st.error();
  // A backend that runs f32 only refuses an f64 engine by name.
  ForwardingBackend* seen = nullptr;
  auto refused = make_engine(m, o, 64, DType::F64, forwarding(*m, seen));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("does not run F64"), std::string::npos) << refused.error();
  // One element-type enum serves activations and caches: the types neither can hold are
  // refused by name, not run as something else.
  auto f16_act = make_engine(m, o, 64, DType::BF16, {}, &cache);
  ASSERT_FALSE(f16_act.ok());
  EXPECT_NE(f16_act.error().find("not BF16"), std::string::npos) << f16_act.error();
  EngineOptions q8;
  q8.kv = DType::Q8_0;
  auto q8_cache = make_engine(m, q8, 64, DType::F32, {}, &cache);
  ASSERT_FALSE(q8_cache.ok());
  EXPECT_NE(q8_cache.error().find("not Q8_0"), std::string::npos) << q8_cache.error();
}

// A mixture of experts runs each expert once per micro-batch, on the rows routed to
// it (one GEMM per matrix), never once per token; through the seam it equals the
// CPU backend's result.
TEST(BackendSeam, ExpertsRunOncePerMicroBatchOnTheirRows) {
  const std::string dir = temp_dir("moe-seam");
  ASSERT_TRUE(write_hf_model(make_random_model(random_model_shape("tiny-qwen2moe").value()), dir + "/hf").ok());
  auto m = load_ok(dir + "/hf");
  ASSERT_TRUE(m);
  const MoeDesc& moe = m->config.block.moe;
  ASSERT_EQ(moe.n_experts, 4);
  std::vector<int> toks;
  for (int i = 0; i < 60; ++i) toks.push_back((i * 13 + 5) % 512);
  ForwardingBackend* seen = nullptr;
  EngineOptions o;
  auto e = make_engine(m, o, 64, DType::F32, forwarding(*m, seen));
  ASSERT_TRUE(e.ok()) << e.error();
  ASSERT_TRUE((*e)->forward(toks.data(), 60).ok());  // one micro-batch (chunk 64)
  // Per layer: q, k, v, o; the router; at most 3 per expert; the shared expert's 3 and its gate.
  const int per_layer_max = 4 + 1 + 3 * moe.n_experts + 3 + 1;
  EXPECT_LE(seen->matmuls, m->config.n_layers * per_layer_max);
  EXPECT_GE(seen->matmuls, m->config.n_layers * (4 + 1 + 3 + 4));
  std::vector<float> a, b;
  ASSERT_TRUE((*e)->logits(59, a).ok());
  auto cpu = make_engine(m, o, 64);
  ASSERT_TRUE(cpu.ok());
  ASSERT_TRUE((*cpu)->forward(toks.data(), 60).ok());
  ASSERT_TRUE((*cpu)->logits(59, b).ok());
  EXPECT_EQ(a, b);
}

// Cancel is prompt in units of work, not of time: a flag set while layer 1's
// attention runs ends the forward before any later layer's attention starts.
TEST(BackendSeam, CancelStopsBeforeTheNextLayer) {
  auto m = load_ok(bundled_gguf());
  ASSERT_GE(m->config.n_layers, 4);
  std::atomic<bool> cancel{false};
  EngineOptions o;
  o.cancel = &cancel;
  ForwardingBackend* seen = nullptr;
  auto e = make_engine(m, o, 256, DType::F32, forwarding(*m, seen));
  ASSERT_TRUE(e.ok()) << e.error();
  seen->cancel_flag = &cancel;
  seen->cancel_at_call = 2;  // layer 1 of the first chunk
  std::vector<int> toks(200, 5);
  auto st = e.value()->forward(toks.data(), (int)toks.size());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("cancelled"), std::string::npos) << st.error();
  EXPECT_EQ(seen->attention_calls, 2);  // 2 of n_layers × ceil(200 / 64) = 20
}

// An op handed views it cannot run (two dtypes, a dtype the backend does not run,
// too few elements) writes nothing and says why through sync(), once.
TEST(BackendSeam, ViewsAnOpCannotRunAreReportedNotRun) {
  CpuBackend b{CpuOptions{}};
  ASSERT_TRUE(b.supports(DType::F32) && b.supports(DType::F64) && !b.supports(DType::BF16));
  const std::vector<float> w(8, 1.0f);
  Tensor x = b.alloc(DType::F32, 16), y32 = b.alloc(DType::F32, 16), y64 = b.alloc(DType::F64, 16);
  ASSERT_TRUE(x.data && y32.data && y64.data);
  ASSERT_TRUE(b.sync().ok());
  const std::vector<float> ones(16, 1.0f);
  b.from_host(ones.data(), x);
  std::vector<double> host64(16, -7.0);
  b.from_host(host64.data(), y64);
  b.rmsnorm(x, w.data(), 2, 8, 1e-5, y64);  // f32 in, f64 out
  Status st = b.sync();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("two dtypes"), std::string::npos) << st.error();
  b.to_host(y64, host64.data());
  for (double v : host64) EXPECT_EQ(v, -7.0);  // nothing written
  EXPECT_TRUE(b.sync().ok());                  // reported once
  b.rmsnorm(x, w.data(), 4, 8, 1e-5, y32);     // 32 elements asked of views of 16
  st = b.sync();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("needs 32"), std::string::npos) << st.error();
  EXPECT_EQ(b.alloc(DType::BF16, 4).data, nullptr);
  st = b.sync();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("runs F32 and F64"), std::string::npos) << st.error();
  // The same call with fitting views runs: rows of ones stay ones.
  b.rmsnorm(x, w.data(), 2, 8, 1e-5, y32);
  ASSERT_TRUE(b.sync().ok());
  std::vector<float> out(16);
  b.to_host(y32, out.data());
  for (float v : out) EXPECT_NEAR(v, 1.0f, 1e-4f);
  // A slice outside its view is empty, so an op on it is refused the same way.
  EXPECT_EQ(x.slice(10, 7).data, nullptr);
  EXPECT_EQ(x.slice(8, 8).count, 8u);
  b.add(x.slice(10, 7), y32);
  st = b.sync();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("empty view"), std::string::npos) << st.error();
  for (const Tensor& t : {x, y32, y64}) b.release(t);
}

TEST(BackendSeam, WeightsUploadOnceAndChunkIsTheBackendsChoice) {
  auto m = load_ok(bundled_gguf());
  ASSERT_TRUE(m);
  ForwardingBackend* seen = nullptr;
  auto shared = forwarding(*m, seen);
  EngineOptions o;
  const std::vector<int> toks = story_tokens(200);
  auto e1 = make_engine(m, o, 256, DType::F32, shared).take();
  auto e2 = make_engine(m, o, 256, DType::F32, shared).take();
  EXPECT_EQ(e1->options().chunk, 64);  // preferred_chunk(), as no chunk was asked for
  const auto via_fwd = nll_of(*e1, toks);
  nll_of(*e2, toks);
  EXPECT_EQ(seen->uploads, 1);
  // The same numbers as the model's own CPU backend (chunk 64 vs 256 gives the same sums).
  auto plain = make_engine(m, o, 256).take();
  const auto ref = nll_of(*plain, toks);
  ASSERT_EQ(via_fwd.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(via_fwd[i], ref[i], 1e-4) << i;
}

TEST(BackendSeam, DeviceErrorStopsTheForwardWithinALayer) {
  auto m = load_ok(bundled_gguf());
  ASSERT_TRUE(m);
  ForwardingBackend* seen = nullptr;
  auto shared = forwarding(*m, seen);
  auto e = make_engine(m, EngineOptions{}, 64, DType::F32, shared).take();
  const std::vector<int> toks = story_tokens(32);
  ASSERT_TRUE(e->forward(toks.data(), 32).ok());
  EXPECT_EQ(seen->syncs, 0);  // counting starts when fail_after is set
  seen->fail_after = 2;       // the third sync fails: the one before layer 2 (layers 0 and 1 ran)
  e->reset();
  auto st = e->forward(toks.data(), 32);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("illegal memory access"), std::string::npos) << st.error();
  EXPECT_EQ(seen->syncs, 3);  // checked once per layer, stopped at the first failure
}

// Engines sharing a backend keep separate caches and position tables: YaRN fed in
// three calls (as generation feeds) interleaved with dynamic NTK at another
// length (its own tables, raw key cache) gives each engine its solo result.
TEST(BackendSeam, InterleavedEnginesKeepTheirOwnCacheAndTables) {
  auto m = load_ok(bundled_gguf(), 64);
  ASSERT_TRUE(m);
  EngineOptions oa, ob;
  oa.method = parse_method_spec("yarn:factor=4").value();
  ob.method = parse_method_spec("dynamic-ntk:alpha=2,cache=raw").value();
  const std::vector<int> toks = story_tokens(301);
  const std::vector<int> a(toks.begin(), toks.begin() + 301), b(toks.begin() + 50, toks.begin() + 171);
  const auto want_a = nll_of(*make_engine(m, oa, 400).take(), a);
  const auto want_b = nll_of(*make_engine(m, ob, 400).take(), b);
  BackendCache cache;
  auto ea = make_engine(m, oa, 400, DType::F32, {}, &cache).take(), eb = make_engine(m, ob, 400, DType::F32, {}, &cache).take();
  ASSERT_EQ(&ea->backend(), &eb->backend());  // the method is the engine's, not the backend's
  ASSERT_TRUE(ea->forward(a.data(), 100).ok());
  ASSERT_TRUE(eb->forward(b.data(), (int)b.size() - 1).ok());
  ASSERT_TRUE(ea->forward(a.data() + 100, 100).ok());
  std::vector<double> got_b(b.size() - 1);
  ASSERT_TRUE(eb->nll(0, (int)got_b.size(), b.data() + 1, got_b.data()).ok());
  for (size_t i = 0; i < got_b.size(); ++i) EXPECT_NEAR(got_b[i], want_b[i], 1e-4) << i;
  ASSERT_TRUE(ea->forward(a.data() + 200, 100).ok());
  std::vector<double> tail(100);
  ASSERT_TRUE(ea->nll(0, 100, a.data() + 201, tail.data()).ok());
  for (int i = 0; i < 100; ++i) EXPECT_NEAR(tail[i], want_a[200 + i], 1e-4) << i;
}

// Two threads running analyses on one model share its backend safely.
TEST(BackendSeam, ConcurrentRunsOnOneModelAgreeWithSequentialRuns) {
  auto m = load_ok(bundled_gguf());
  ASSERT_TRUE(m);
  const std::vector<int> toks = story_tokens(600);
  RunConfig run;
  run.model = m;
  run.backend.cpu.threads = 1;
  auto rope = run_ppl(run, toks, 128).value();
  RunConfig yarn = run;
  yarn.engine.method = parse_method_spec("yarn:factor=4").value();
  auto want_yarn = run_ppl(yarn, toks, 256).value();
  Result<PplResult> r1 = make_error(""), r2 = make_error("");
  std::thread t1([&] { r1 = run_ppl(run, toks, 128); });
  std::thread t2([&] { r2 = run_ppl(yarn, toks, 256); });
  t1.join();
  t2.join();
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ(r1->nll, rope.nll);
  EXPECT_EQ(r2->nll, want_yarn.nll);
}

// Device backends are chosen by name (BackendRequest::kind): a registered factory
// runs every op for the engine, "auto" takes it when it finds a device and falls
// back to the CPU otherwise, and a backend that is not built in, cannot start, or
// is asked for f64 is refused with its reason.
int fake_made = 0;
Result<std::unique_ptr<Backend>> make_fake() {
  ++fake_made;
  return std::unique_ptr<Backend>(std::make_unique<ForwardingBackend>());
}
Result<std::unique_ptr<Backend>> make_absent() { return make_error("no device of this kind is present"); }

TEST(BackendSeam, DeviceBackendsAreChosenByName) {
  auto none = resolve_backend("tpu", false);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().find("not built into this program"), std::string::npos) << none.error();
  EXPECT_EQ(resolve_backend("auto", false).value(), "cpu");
  // The CUDA backend: not built in (no toolkit), or a module opened on first use
  // that makes a backend where a device is present and says why not elsewhere.
  if (auto cuda = resolve_backend("cuda", false); cuda.ok()) {
    BackendRequest cuda_request;
    cuda_request.kind = "cuda";
    auto e = make_engine(load_ok(bundled_gguf()), EngineOptions{}, 64, DType::F32, cuda_request);
    if (!e.ok()) {
      EXPECT_EQ(e.error().rfind("cuda backend: ", 0), 0u) << e.error();
    }
  } else {
    EXPECT_NE(cuda.error().find("not built into this program"), std::string::npos) << cuda.error();
  }
  register_device_backend("absent", &make_absent);
  EXPECT_EQ(resolve_backend("auto", false).value(), "cpu");  // its factory finds no device
  auto m = load_ok(bundled_gguf());
  ASSERT_TRUE(m);
  EngineOptions o;
  BackendRequest r;
  r.kind = "absent";
  BackendCache cache;
  auto refused = make_engine(m, o, 64, DType::F32, r, &cache);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("no device of this kind"), std::string::npos) << refused.error();
  register_device_backend("fake", &make_fake);
  EXPECT_EQ(resolve_backend("auto", false).value(), "fake");
  EXPECT_EQ(resolve_backend("auto", true).value(), "cpu");  // device backends run in f32
  EXPECT_FALSE(resolve_backend("fake", true).ok());
  const auto toks = story_tokens(120);
  r.kind = "fake";
  auto e = make_engine(m, o, 200, DType::F32, r, &cache);
  ASSERT_TRUE(e.ok()) << e.error();
  const int made = fake_made;
  EXPECT_GE(made, 1);
  auto got = nll_of(**e, toks);
  r.kind = "auto";  // the same shared backend: not made again
  auto e2 = make_engine(m, o, 200, DType::F32, r, &cache);
  ASSERT_TRUE(e2.ok());
  EXPECT_EQ(fake_made, made);
  r.kind = "cpu";
  auto c = make_engine(m, o, 200, DType::F32, r, &cache);
  ASSERT_TRUE(c.ok());
  auto want = nll_of(**c, toks);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << i;
}

// NBCE's batched step: engines of different methods and lengths on one backend take a
// token each in one batch; each ends as if it had run forward(&token, 1) alone.
TEST(BackendSeam, ForwardEachEqualsOneForwardPerEngine) {
  auto m = load_ok(bundled_gguf(), 64);
  ASSERT_TRUE(m);
  const auto toks = story_tokens(120);
  const char* methods[] = {"rope", "rerope:window=8,logn=1", "dynamic-ntk:alpha=2", "sliding-window:window=16,sinks=2"};
  const int prompt[] = {10, 37, 80, 95};
  BackendCache cache;  // one backend for the batch
  for (DType prec : {DType::F32, DType::F64}) {
    std::vector<std::unique_ptr<Engine>> batched, alone;
    for (int i = 0; i < 4; ++i) {
      EngineOptions o;
      o.method = parse_method_spec(methods[i]).value();
      o.chunk = 2;  // fewer rows per batch than engines: the batch is split
      for (auto* set : {&batched, &alone}) {
        auto e = make_engine(m, o, 120, prec, {}, &cache);
        ASSERT_TRUE(e.ok()) << e.error();
        ASSERT_TRUE((*e)->forward(toks.data(), prompt[i]).ok());
        set->push_back(e.take());
      }
    }
    std::vector<Engine*> batch;
    for (auto& e : batched) batch.push_back(e.get());
    for (int step = 0; step < 3; ++step) {
      const int next[] = {toks[10 + step], toks[37 + step], toks[80 + step], toks[95 + step]};
      ASSERT_TRUE(Engine::forward_each(batch, next).ok());
      for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(alone[i]->forward(&next[i], 1).ok());
        EXPECT_EQ(batched[i]->pos(), alone[i]->pos());
        std::vector<float> a, b;
        ASSERT_TRUE(batched[i]->logits(0, a).ok());
        ASSERT_TRUE(alone[i]->logits(0, b).ok());
        double worst = 0;
        for (size_t v = 0; v < a.size(); ++v) worst = std::max(worst, (double)std::fabs(a[v] - b[v]));
        EXPECT_LE(worst, prec == DType::F64 ? 1e-9 : 1e-4) << methods[i] << " step " << step;
      }
    }
  }
  // Engines of two models cannot share a batch.
  auto other = load_ok(bundled_gguf(), 128);
  auto a = make_engine(m, EngineOptions{}, 16, DType::F32, {}, &cache);
  auto b = make_engine(other, EngineOptions{}, 16, DType::F32, {}, &cache);
  ASSERT_TRUE(a.ok() && b.ok());
  const int t[] = {1, 1};
  auto st = Engine::forward_each({a->get(), b->get()}, t);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().find("share one model"), std::string::npos) << st.error();
}

// A device with 48 MiB free: the app's length cap comes from it, not from the host.
Result<std::unique_ptr<Backend>> make_small() {
  auto b = std::make_unique<ForwardingBackend>();
  b->memory = size_t{48} << 20;
  return std::unique_ptr<Backend>(std::move(b));
}

TEST(BackendSeam, LengthCapComesFromTheChosenBackendsMemory) {
  auto m = load_ok(bundled_gguf());
  ASSERT_TRUE(m);
  register_device_backend("small", &make_small);
  BackendRequest o;
  o.kind = "small";
  EXPECT_EQ(backend_memory_available(m, o), size_t{48} << 20);
  o.kind = "cpu";
  const size_t host = backend_memory_available(m, o);  // the host's, which moves from call to call
  EXPECT_GT(host, size_t{0});
  EXPECT_NE(host, size_t{48} << 20);
  const ModelConfig& c = m->config;
  const int cap = longest_context(c, size_t{48} << 20);
  // The largest power of two whose engine fits in half the 48 MiB.
  EXPECT_LE(engine_memory_bytes(c, cap, 256, DType::F32), size_t{24} << 20);
  EXPECT_GT(engine_memory_bytes(c, 2 * cap, 256, DType::F32), size_t{24} << 20);
  EXPECT_GE(cap, 256);
  EXPECT_LT(cap, longest_context(c, size_t{64} << 30));
  EXPECT_EQ(longest_context(c, 0), 1 << 20);  // no limit known
}

}  // namespace
}  // namespace ls::test
