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
struct TooDeep {};
}  // namespace

Result<nlohmann::json> parse_json(std::string_view text, const std::string& what, int max_depth, const JsonHook& hook) {
  if (auto st = check_memory(json_memory_estimate(text.size()), "reading " + what); !st) return make_error(st.error());
  using E = nlohmann::json::parse_event_t;
  auto cb = [&](int depth, E event, nlohmann::json& parsed) {
    if ((event == E::object_start || event == E::array_start) && depth >= max_depth) throw TooDeep{};
    return hook ? hook(depth, event, parsed) : true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/true, /*ignore_comments=*/false);
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
