#include "io/fleet/etcd_client.hpp"

#include "io/control/http_client.hpp"

#include <boost/json.hpp>

#include <openssl/evp.h>

#include <charconv>

namespace canaryd::io {

namespace json = boost::json;

namespace {

std::string base64(const std::string& bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::optional<std::string> unbase64(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out(3 * text.size() / 4, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    // EVP_DecodeBlock counts the bytes the padding stands for: drop them.
    std::size_t length = static_cast<std::size_t>(n);
    if (text.ends_with("==")) length -= 2;
    else if (text.ends_with("=")) length -= 1;
    out.resize(length);
    return out;
}

// proto3's JSON mapping writes int64 as a string; an absent field is zero.
std::int64_t int64_field(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    if (!v) return 0;
    if (v->is_int64()) return v->as_int64();
    if (!v->is_string()) return 0;
    std::int64_t n = 0;
    const auto& s = v->as_string();
    std::from_chars(s.data(), s.data() + s.size(), n);
    return n;
}

// The end of the range of every key with this prefix: the prefix with its last byte that is
// not 0xff incremented (etcd's own convention; "\0" means "to the end of the keyspace").
std::string prefix_end(std::string prefix) {
    while (!prefix.empty()) {
        auto& last = reinterpret_cast<unsigned char&>(prefix.back());
        if (last < 0xff) {
            ++last;
            return prefix;
        }
        prefix.pop_back();
    }
    return std::string(1, '\0');
}

Result<std::vector<EtcdKeyValue>> key_values(const json::object& reply) {
    std::vector<EtcdKeyValue> out;
    const auto* kvs = reply.if_contains("kvs");
    if (!kvs) return out;
    if (!kvs->is_array()) return Error{"etcd: 'kvs' is not a list"};
    for (const auto& item : kvs->as_array()) {
        if (!item.is_object()) return Error{"etcd: a key-value is not an object"};
        const auto& o = item.as_object();
        EtcdKeyValue kv;
        const auto* key = o.if_contains("key");
        auto decoded_key = key && key->is_string() ? unbase64(key->as_string()) : std::nullopt;
        if (!decoded_key) return Error{"etcd: a key is not base64"};
        kv.key = std::move(*decoded_key);
        if (const auto* value = o.if_contains("value")) {
            auto decoded = value->is_string() ? unbase64(value->as_string()) : std::nullopt;
            if (!decoded) return Error{"etcd: the value of " + kv.key + " is not base64"};
            kv.value = std::move(*decoded);
        }
        kv.create_revision = int64_field(o, "create_revision");
        kv.mod_revision = int64_field(o, "mod_revision");
        kv.lease = int64_field(o, "lease");
        out.push_back(std::move(kv));
    }
    return out;
}

}  // namespace

EtcdClient::EtcdClient(std::string host, std::uint16_t port, std::chrono::milliseconds timeout)
    : EtcdClient(std::vector<EtcdEndpoint>{{std::move(host), port}}, timeout) {}

EtcdClient::EtcdClient(std::vector<EtcdEndpoint> endpoints, std::chrono::milliseconds timeout)
    : endpoints_(std::move(endpoints)), timeout_(timeout) {
    if (endpoints_.empty()) endpoints_.push_back({"127.0.0.1", 2379});
}

Result<json::object> EtcdClient::post(const std::string& path, const json::object& body) {
    HttpCall call;
    call.method = "POST";
    call.target = "/v3/" + path;
    call.body = json::serialize(body);
    call.timeout = timeout_;
    // A member that does not answer at all is skipped; one that answers (even with an
    // error) is the cluster speaking, and its answer stands.
    Result<HttpReply> reply = Error{"etcd: no endpoint"};
    for (std::size_t attempt = 0; attempt < endpoints_.size(); ++attempt) {
        const auto& endpoint = endpoints_[(current_ + attempt) % endpoints_.size()];
        call.host = endpoint.host;
        call.port = endpoint.port;
        reply = http_call(call);
        if (reply) {
            current_ = (current_ + attempt) % endpoints_.size();
            break;
        }
    }
    if (!reply) return Error{"etcd " + reply.message()};
    boost::system::error_code ec;
    auto parsed = json::parse(reply->body, ec);
    if (ec || !parsed.is_object())
        return Error{"etcd /v3/" + path + ": HTTP " + std::to_string(reply->status) + ", not a JSON object"};
    auto& object = parsed.as_object();
    if (reply->status != 200) {
        const auto* message = object.if_contains("message");
        if (!message) message = object.if_contains("error");
        return Error{"etcd /v3/" + path + ": HTTP " + std::to_string(reply->status) +
                     (message && message->is_string() ? ": " + std::string(message->as_string()) : "")};
    }
    return std::move(object);
}

Result<std::optional<EtcdKeyValue>> EtcdClient::get(const std::string& key) {
    auto reply = post("kv/range", {{"key", base64(key)}});
    if (!reply) return reply.error();
    auto kvs = key_values(*reply);
    if (!kvs) return kvs.error();
    if (kvs->empty()) return std::optional<EtcdKeyValue>{};
    return std::optional<EtcdKeyValue>{std::move(kvs->front())};
}

Result<std::vector<EtcdKeyValue>> EtcdClient::list(const std::string& prefix) {
    auto reply = post("kv/range", {{"key", base64(prefix)}, {"range_end", base64(prefix_end(prefix))}});
    if (!reply) return reply.error();
    return key_values(*reply);
}

Result<std::int64_t> EtcdClient::put(const std::string& key, const std::string& value, std::int64_t lease) {
    json::object body{{"key", base64(key)}, {"value", base64(value)}};
    if (lease != 0) body["lease"] = std::to_string(lease);
    auto reply = post("kv/put", body);
    if (!reply) return reply.error();
    const auto* header = reply->if_contains("header");
    return header && header->is_object() ? int64_field(header->as_object(), "revision") : 0;
}

Result<bool> EtcdClient::put_if(const std::string& key, const std::string& value, std::int64_t expected_mod_revision,
                                std::int64_t lease) {
    // "Not there yet" is a create revision of 0; "unchanged since I read it" is the mod revision.
    EtcdCompare compare{key, expected_mod_revision == 0 ? EtcdCompare::Target::create : EtcdCompare::Target::mod,
                        expected_mod_revision};
    auto written = put_when(key, value, {compare}, lease);
    if (!written) return written.error();
    return *written > 0;
}

Result<std::int64_t> EtcdClient::put_when(const std::string& key, const std::string& value,
                                  const std::vector<EtcdCompare>& compares, std::int64_t lease) {
    json::object put{{"key", base64(key)}, {"value", base64(value)}};
    if (lease != 0) put["lease"] = std::to_string(lease);
    json::array conditions;
    for (const auto& c : compares) {
        json::object compare{{"key", base64(c.key)}, {"result", "EQUAL"}};
        if (c.target == EtcdCompare::Target::create) {
            compare["target"] = "CREATE";
            compare["create_revision"] = std::to_string(c.revision);
        } else {
            compare["target"] = "MOD";
            compare["mod_revision"] = std::to_string(c.revision);
        }
        conditions.push_back(std::move(compare));
    }
    auto reply = post("kv/txn", {{"compare", std::move(conditions)}, {"success", json::array{json::object{{"request_put", put}}}}});
    if (!reply) return reply.error();
    const auto* succeeded = reply->if_contains("succeeded");
    if (!succeeded || !succeeded->is_bool() || !succeeded->as_bool()) return std::int64_t{0};
    const auto* header = reply->if_contains("header");
    const auto revision = header && header->is_object() ? int64_field(header->as_object(), "revision") : 0;
    if (revision <= 0) return Error{"etcd kv/txn: written, but the reply has no revision"};
    return revision;
}

Result<bool> EtcdClient::erase(const std::string& key) {
    auto reply = post("kv/deleterange", {{"key", base64(key)}});
    if (!reply) return reply.error();
    return int64_field(*reply, "deleted") > 0;
}

Result<std::int64_t> EtcdClient::grant_lease(std::chrono::seconds ttl) {
    auto reply = post("lease/grant", {{"TTL", std::to_string(ttl.count())}});
    if (!reply) return reply.error();
    const auto id = int64_field(*reply, "ID");
    if (id == 0) return Error{"etcd lease/grant: no lease id in the reply"};
    return id;
}

Result<bool> EtcdClient::keep_alive(std::int64_t lease) {
    // A streaming call in gRPC; through the gateway one request gets one {"result": ...}.
    auto reply = post("lease/keepalive", {{"ID", std::to_string(lease)}});
    if (!reply) return reply.error();
    const auto* result = reply->if_contains("result");
    // An expired lease comes back with TTL 0 (or none).
    return result && result->is_object() && int64_field(result->as_object(), "TTL") > 0;
}

Status EtcdClient::revoke(std::int64_t lease) {
    auto reply = post("lease/revoke", {{"ID", std::to_string(lease)}});
    if (!reply) return reply.error();
    return {};
}

}  // namespace canaryd::io
