// TlsContextSource: the server-side TLS context (certificate chain + private key, PEM files),
// re-read when either file changes (mtime, size or inode, checked at each call of current(), i.e.
// on each new connection) so a rotated certificate (cert-manager, a renewed Secret) is served
// without a restart. A rotation that cannot be loaded (half-written files, key not matching) is
// logged and the previous context stays in use.
// Thread-safety: current() may be called from any thread; contexts handed out stay valid for as
// long as the caller holds them.
// Only forward declarations of the Asio SSL and OpenSSL types here: a file that uses a context
// includes <boost/asio/ssl/context.hpp> itself, the rest stay free of the SSL headers.
//
// TlsClientContextSource: the client side — a context that verifies servers against a CA bundle
// file, re-read when the file changes (checked at most once per interval), with
// expect_peer_name() for the per-connection name check. Same thread rules.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "common/file_watch.h"
#include "common/result.h"

namespace boost::asio::ssl {
class context;
}
namespace boost::system {
class error_code;
}
struct ssl_st;  // OpenSSL's SSL

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
    Result<std::shared_ptr<boost::asio::ssl::context>> build() const;

    std::string cert_file_;
    std::string key_file_;
    mutable std::mutex mutex_;
    std::shared_ptr<boost::asio::ssl::context> context_;
    FileStamp cert_stamp_, key_stamp_;
    size_t loads_ = 0;
};

// Client context trusting only the CA certificates in `ca_file` (PEM, one or more), peer
// verification on. Errors: kInvalidArgument naming the file and OpenSSL's reason.
Result<std::shared_ptr<boost::asio::ssl::context>> make_client_context(const std::string& ca_file);
// Client context trusting the system's CA store (OpenSSL's default paths), peer verification on:
// for servers with a publicly issued certificate. Errors: kInvalidArgument with OpenSSL's reason.
Result<std::shared_ptr<boost::asio::ssl::context>> make_system_client_context();

// Makes the connection `ssl` (not yet handshaken) accept only a certificate for `host`: an IP
// address must be in the certificate's IP SANs, a name in its DNS SANs (and is sent as SNI).
// A mismatch fails the handshake as "certificate verify failed" (see describe_handshake_error).
// Errors: kInvalidArgument when OpenSSL refuses the name.
Status expect_peer_name(ssl_st* ssl, const std::string& host);

// The text for a failed client handshake: the error, plus OpenSSL's verification result when the
// certificate was refused, e.g. "certificate verify failed (SSL routines): certificate has expired".
std::string describe_handshake_error(const boost::system::error_code& ec, const ssl_st* ssl);

class TlsClientContextSource {
public:
    explicit TlsClientContextSource(std::string ca_file,
                                    std::chrono::milliseconds min_interval = std::chrono::seconds(1));

    // Loads the CA file for the first time; errors as make_client_context().
    Status load();
    // The context for a new connection; reloaded first when the file changed (stat at most once per
    // interval). A changed file that does not load is logged and the previous context kept.
    // Never null after a successful load().
    std::shared_ptr<boost::asio::ssl::context> current();
    size_t loads() const;
    const std::string& ca_file() const { return ca_file_; }

private:
    const std::string ca_file_;
    mutable std::mutex mutex_;
    FileWatch watch_;
    std::shared_ptr<boost::asio::ssl::context> context_;
    size_t loads_ = 0;
};

}  // namespace ct::http
