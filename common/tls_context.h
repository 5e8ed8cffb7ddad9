// TlsContextSource: the server-side TLS context (certificate chain + private key, PEM files),
// re-read when either file changes (mtime, size or inode, checked at each call of current(), i.e.
// on each new connection) so a rotated certificate (cert-manager, a renewed Secret) is served
// without a restart. A rotation that cannot be loaded (half-written files, key not matching) is
// logged and the previous context stays in use.
// Thread-safety: current() may be called from any thread; contexts handed out stay valid for as
// long as the caller holds them.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "common/result.h"

namespace ct::http {

class TlsContextSource {
public:
    TlsContextSource(std::string cert_file, std::string key_file);

    // Loads the files for the first time. Errors: kInvalidArgument naming the file and OpenSSL's
    // reason (missing file, not PEM, key does not match the certificate).
    Status load();
    // The context to use for a new connection (reloaded first when the files changed).
    // Never null after a successful load().
    std::shared_ptr<boost::asio::ssl::context> current();
    // How many times the files were (re)loaded successfully; for tests and logs.
    size_t loads() const;

private:
    struct Stamp {
        long long mtime_ns = 0;
        long long size = 0;
        unsigned long long ino = 0;
        bool operator==(const Stamp&) const = default;
    };
    Result<Stamp> stamp(const std::string& path) const;
    Result<std::shared_ptr<boost::asio::ssl::context>> build() const;

    std::string cert_file_;
    std::string key_file_;
    mutable std::mutex mutex_;
    std::shared_ptr<boost::asio::ssl::context> context_;
    Stamp cert_stamp_, key_stamp_;
    size_t loads_ = 0;
};

}  // namespace ct::http
