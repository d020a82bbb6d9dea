#include "core/util/json.h"

#include "core/util/memory.h"

namespace ls {

size_t json_memory_estimate(size_t bytes) {
  // Measured worst cases per input byte (x86-64, libstdc++): an array of one-digit
  // numbers 16 (a 16-byte value in a vector that may have doubled), objects of
  // one-letter keys ~14, arrays of empty strings or empty arrays ~27 (each its own
  // heap block); 40 per byte covers them all with the text itself.
  return bytes * 40 + 4096;
}

namespace {

using Json = nlohmann::json;
using Event = Json::parse_event_t;

struct TooDeep {};

// Builds the document from nlohmann's SAX events, with the nesting limit and the
// reader's hook. nlohmann's own callback parser scans the whole parent container
// at every object's end to drop discarded values (quadratic: 100,000 empty objects
// in an array took 1.8 s, a million would take minutes); here a discarded value is
// the parent's last one and is dropped directly.
class DomBuilder {
 public:
  DomBuilder(int max_depth, const JsonHook& hook) : max_depth_(max_depth), hook_(hook) {}
  Json root;
  size_t error_at = 0;
  bool failed = false;

  bool null() { return value(Json(nullptr)); }
  bool boolean(bool v) { return value(Json(v)); }
  bool number_integer(Json::number_integer_t v) { return value(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return value(Json(v)); }
  bool number_float(Json::number_float_t v, const std::string&) { return value(Json(v)); }
  bool string(std::string& v) { return value(Json(std::move(v))); }
  bool binary(Json::binary_t& v) { return value(Json(std::move(v))); }
  bool start_object(std::size_t) { return open(Json::value_t::object, Event::object_start); }
  bool start_array(std::size_t) { return open(Json::value_t::array, Event::array_start); }
  bool end_object() { return close(Event::object_end); }
  bool end_array() { return close(Event::array_end); }
  bool key(std::string& k) {
    Frame& f = stack_.back();
    f.key_keep = true;
    if (hook_ && f.container) {
      Json kj(k);
      f.key_keep = hook_((int)stack_.size(), Event::key, kj);
    }
    f.key = std::move(k);
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) {
    failed = true;
    error_at = position;
    return false;
  }

 private:
  struct Frame {
    Json* container;  // nullptr: this container is left out, and so is all it holds
    std::string key;
    bool key_keep = true;
  };
  std::vector<Frame> stack_;
  int max_depth_;
  const JsonHook& hook_;

  // Where a value goes: nullptr when its container or its key is left out.
  bool parent_kept() const { return stack_.empty() || stack_.back().container; }
  Json* insert(Json&& v) {
    if (stack_.empty()) {
      root = std::move(v);
      return &root;
    }
    Frame& f = stack_.back();
    if (!f.container) return nullptr;
    if (f.container->is_array()) {
      f.container->get_ref<Json::array_t&>().push_back(std::move(v));
      return &f.container->get_ref<Json::array_t&>().back();
    }
    if (!f.key_keep) return nullptr;
    Json& slot = f.container->get_ref<Json::object_t&>()[f.key];
    slot = std::move(v);
    return &slot;
  }
  bool value(Json&& v) {
    if (!parent_kept()) return true;
    if (hook_ && !hook_((int)stack_.size(), Event::value, v)) return true;
    insert(std::move(v));
    return true;
  }
  bool open(Json::value_t type, Event e) {
    if ((int)stack_.size() >= max_depth_) throw TooDeep{};
    Json* c = nullptr;
    if (parent_kept()) {
      Json placeholder(Json::value_t::discarded);
      if (!hook_ || hook_((int)stack_.size(), e, placeholder)) c = insert(Json(type));
    }
    stack_.push_back({c, {}, true});
    return true;
  }
  bool close(Event e) {
    Json* c = stack_.back().container;
    stack_.pop_back();
    if (!c || !hook_ || hook_((int)stack_.size(), e, *c)) return true;
    // Left out after all: it is its parent's last value (or under its key).
    if (stack_.empty()) root = Json(Json::value_t::discarded);
    else if (Json* p = stack_.back().container; p && p->is_array()) p->get_ref<Json::array_t&>().pop_back();
    else if (p) p->erase(stack_.back().key);
    return true;
  }
};

}  // namespace

Result<nlohmann::json> parse_json(std::string_view text, const std::string& what, int max_depth, const JsonHook& hook,
                                  size_t memory_estimate) {
  if (!memory_estimate) memory_estimate = json_memory_estimate(text.size());
  if (auto st = check_memory(memory_estimate, "reading " + what); !st) return make_error(st.error());
  DomBuilder dom(max_depth, hook);
  try {
    nlohmann::json::sax_parse(text.begin(), text.end(), &dom, nlohmann::json::input_format_t::json, /*strict=*/true,
                              /*ignore_comments=*/false);
    if (dom.failed) return make_error(what + " is not valid JSON (at byte " + std::to_string(dom.error_at) + ")");
    if (dom.root.is_discarded()) dom.root = nullptr;
    return std::move(dom.root);
  } catch (const JsonStop& e) {
    return make_error(what + ": " + e.message);
  } catch (const TooDeep&) {
    return make_error(what + " nests more than " + std::to_string(max_depth) + " levels deep");
  } catch (const nlohmann::json::parse_error& e) {
    return make_error(what + " is not valid JSON (at byte " + std::to_string(e.byte) + ")");
  } catch (const nlohmann::json::exception& e) {
    return make_error(what + " cannot be read: " + e.what());
  } catch (const std::bad_alloc&) {
    return make_error(what + " needs more memory than is available");
  }
}

}  // namespace ls
