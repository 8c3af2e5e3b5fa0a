// A client of etcd v3 through its JSON gateway (`/v3/...`, etcd 3.4 and later) for fleet
// mode's shared rollout state (SPEC §9): no gRPC stack, only Beast and Boost.JSON. The
// gateway maps protobuf to JSON: keys and values are bytes, so base64; 64-bit integers
// (revisions, lease ids) are JSON strings. Blocking, one deadline per call: run it on a
// thread that may block.
//
// What fleet mode needs of etcd, and nothing more: read a key or a prefix with the
// revision it was last written at, write, write only if the key is still at the revision
// this replica read (compare-and-swap: two replicas racing make one outcome), and leases —
// a key bound to a lease disappears when its holder stops renewing, which is how a dead
// leader hands over.
#pragma once

#include "core/common/result.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace canaryd::io {

struct EtcdKeyValue {
    std::string key;
    std::string value;
    std::int64_t create_revision = 0;
    std::int64_t mod_revision = 0;
    std::int64_t lease = 0;
};

// One condition of a transaction: the key's create or mod revision equals `revision`
// (create revision 0: the key does not exist).
struct EtcdCompare {
    enum class Target : std::uint8_t { create, mod };
    std::string key;
    Target target = Target::mod;
    std::int64_t revision = 0;
};

struct EtcdEndpoint {
    std::string host;
    std::uint16_t port = 2379;
};

class EtcdClient {
public:
    EtcdClient(std::string host, std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(2));
    // Several members of one cluster: a call that cannot reach the current one tries the
    // next (in order, each once), and the one that answered is kept for the next calls.
    EtcdClient(std::vector<EtcdEndpoint> endpoints, std::chrono::milliseconds timeout);

    Result<std::optional<EtcdKeyValue>> get(const std::string& key);
    // Every key that starts with `prefix`, in key order.
    Result<std::vector<EtcdKeyValue>> list(const std::string& prefix);
    // Returns the store's revision after the write. `lease` 0: the key outlives its writer.
    Result<std::int64_t> put(const std::string& key, const std::string& value, std::int64_t lease = 0);
    // Writes only when the key was last written at `expected_mod_revision` (0: only when it
    // does not exist). True when written, false when another writer came first.
    Result<bool> put_if(const std::string& key, const std::string& value, std::int64_t expected_mod_revision,
                        std::int64_t lease = 0);
    // Writes only when every compare holds (one transaction): the store's revision after the
    // write (the key's new mod revision), or 0 when a compare failed and nothing was written.
    Result<std::int64_t> put_when(const std::string& key, const std::string& value, const std::vector<EtcdCompare>& compares,
                          std::int64_t lease = 0);
    Result<bool> erase(const std::string& key);  // true when a key was deleted

    // A lease of `ttl` (etcd may round it up to its minimum); returns its id.
    Result<std::int64_t> grant_lease(std::chrono::seconds ttl);
    // Renews the lease; false when it has already expired or was revoked.
    Result<bool> keep_alive(std::int64_t lease);
    Status revoke(std::int64_t lease);

private:
    // POSTs `body` to `/v3/<path>`; the reply's JSON object on HTTP 200, else the gateway's
    // error message.
    Result<boost::json::object> post(const std::string& path, const boost::json::object& body);

    std::vector<EtcdEndpoint> endpoints_;
    std::size_t current_ = 0;  // the member that answered last
    std::chrono::milliseconds timeout_;
};

}  // namespace canaryd::io
