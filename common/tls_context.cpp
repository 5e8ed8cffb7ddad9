#include "common/tls_context.h"

#include <sys/stat.h>

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

namespace ct::http {

namespace ssl = boost::asio::ssl;

TlsContextSource::TlsContextSource(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {}

Result<TlsContextSource::Stamp> TlsContextSource::stamp(const std::string& path) const {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return fail_errno("stat \"" + path + "\"");
    return Stamp{static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec,
                 static_cast<long long>(st.st_size), static_cast<unsigned long long>(st.st_ino)};
}

Result<std::shared_ptr<ssl::context>> TlsContextSource::build() const {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    boost::system::error_code ec;
    ctx->use_certificate_chain_file(cert_file_, ec);
    if (ec) return fail(Errc::kInvalidArgument, "TLS certificate \"" + cert_file_ + "\": " + ec.message());
    ctx->use_private_key_file(key_file_, ssl::context::pem, ec);
    if (ec) {
        // OpenSSL 3 refuses a key that does not belong to the certificate right here.
        bool mismatch = ec.message().find("mismatch") != std::string::npos;
        return fail(Errc::kInvalidArgument, "TLS key \"" + key_file_ + "\"" +
                                                (mismatch ? " does not match certificate \"" + cert_file_ + "\"" : "") +
                                                ": " + ec.message());
    }
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
        return fail(Errc::kInvalidArgument,
                    "TLS key \"" + key_file_ + "\" does not match certificate \"" + cert_file_ + "\"");
    return ctx;
}

Status TlsContextSource::load() {
    std::lock_guard lock(mutex_);
    auto cs = stamp(cert_file_);
    if (!cs) return fail(Errc::kInvalidArgument, "TLS certificate: " + cs.error().message);
    auto ks = stamp(key_file_);
    if (!ks) return fail(Errc::kInvalidArgument, "TLS key: " + ks.error().message);
    auto ctx = build();
    if (!ctx) return std::unexpected(ctx.error());
    context_ = std::move(*ctx);
    cert_stamp_ = *cs;
    key_stamp_ = *ks;
    ++loads_;
    return {};
}

std::shared_ptr<ssl::context> TlsContextSource::current() {
    std::lock_guard lock(mutex_);
    auto cs = stamp(cert_file_);
    auto ks = stamp(key_file_);
    if (cs && ks && (*cs != cert_stamp_ || *ks != key_stamp_)) {
        if (auto ctx = build()) {
            context_ = std::move(*ctx);
            ++loads_;
            spdlog::info("TLS certificate {} reloaded", cert_file_);
        } else {
            spdlog::warn("TLS reload failed, keeping the previous certificate: {}", ctx.error().message);
        }
        // Remember the stamps either way: a broken rotation is retried when the files change again.
        cert_stamp_ = *cs;
        key_stamp_ = *ks;
    }
    return context_;
}

size_t TlsContextSource::loads() const {
    std::lock_guard lock(mutex_);
    return loads_;
}

}  // namespace ct::http
