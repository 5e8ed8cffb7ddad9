#include "common/tls_context.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>

namespace ct::http {

namespace ssl = boost::asio::ssl;

TlsContextSource::TlsContextSource(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {}

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
    auto cs = file_stamp(cert_file_);
    if (!cs) return fail(Errc::kInvalidArgument, "TLS certificate: " + cs.error().message);
    auto ks = file_stamp(key_file_);
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
    auto cs = file_stamp(cert_file_);
    auto ks = file_stamp(key_file_);
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

namespace {

std::shared_ptr<ssl::context> new_client_context() {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    ctx->set_verify_mode(ssl::verify_peer);
    return ctx;
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_client_context(const std::string& ca_file) {
    auto ctx = new_client_context();
    boost::system::error_code ec;
    ctx->load_verify_file(ca_file, ec);
    if (ec) return fail(Errc::kInvalidArgument, "CA file \"" + ca_file + "\": " + ec.message());
    return ctx;
}

Result<std::shared_ptr<ssl::context>> make_system_client_context() {
    auto ctx = new_client_context();
    boost::system::error_code ec;
    ctx->set_default_verify_paths(ec);
    if (ec) return fail(Errc::kInvalidArgument, "the system's CA certificates: " + ec.message());
    return ctx;
}

Status expect_peer_name(SSL* ssl, const std::string& host) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(host, ec);
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (!ec) {
        // OpenSSL's own check, so a mismatch shows as a verify result ("IP address mismatch").
        if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1)
            return fail(Errc::kInvalidArgument, "TLS peer address \"" + host + "\" rejected by OpenSSL");
        return {};
    }
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, host.c_str()) != 1 || SSL_set_tlsext_host_name(ssl, host.c_str()) != 1)
        return fail(Errc::kInvalidArgument, "TLS peer name \"" + host + "\" rejected by OpenSSL");
    return {};
}

std::string describe_handshake_error(const boost::system::error_code& ec, const SSL* ssl) {
    long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (verify == X509_V_OK) return ec.message();
    return ec.message() + ": " + X509_verify_cert_error_string(verify);
}

TlsClientContextSource::TlsClientContextSource(std::string ca_file, std::chrono::milliseconds min_interval)
    : ca_file_(ca_file), watch_(std::move(ca_file), min_interval) {}

Status TlsClientContextSource::load() {
    std::lock_guard lock(mutex_);
    auto stamp = file_stamp(ca_file_);  // before reading: a change racing the read is seen next time
    if (!stamp) return fail(Errc::kInvalidArgument, "CA file: " + stamp.error().message);
    auto ctx = make_client_context(ca_file_);
    if (!ctx) return std::unexpected(ctx.error());
    context_ = std::move(*ctx);
    watch_.accept(*stamp);
    ++loads_;
    return {};
}

std::shared_ptr<ssl::context> TlsClientContextSource::current() {
    std::lock_guard lock(mutex_);
    auto stamp = watch_.changed();
    if (!stamp) return context_;  // unchanged, looked at recently, or missing mid-rotation
    if (auto ctx = make_client_context(ca_file_)) {
        context_ = std::move(*ctx);
        ++loads_;
        spdlog::info("CA file {} reloaded", ca_file_);
    } else {
        spdlog::warn("CA reload failed, keeping the previous CA: {}", ctx.error().message);
    }
    watch_.accept(*stamp);  // either way: a broken file is retried when it changes again
    return context_;
}

size_t TlsClientContextSource::loads() const {
    std::lock_guard lock(mutex_);
    return loads_;
}

}  // namespace ct::http
