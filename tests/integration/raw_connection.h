// A plain TCP connection to a loopback port for tests that need what the blocking client hides:
// connections held open idle, a stream read halfway and then dropped. Owns its socket (closed on
// destruction). One thread at a time.
#pragma once

#include <chrono>
#include <string>

#include "common/fd.h"

namespace ct::test {

class RawConnection {
public:
    // Connected to 127.0.0.1:port when ok(), from `source` (another loopback address such as
    // 127.0.0.2 makes another client address; all of 127.0.0.0/8 is loopback).
    explicit RawConnection(unsigned short port, const std::string& source = "127.0.0.1");
    bool ok() const { return static_cast<bool>(fd_); }
    bool send_all(const std::string& data);
    // Appends what arrives within `wait` to received(); false on EOF or error.
    bool read_some(std::chrono::milliseconds wait);
    // Reads until `needle` has arrived (true) or `timeout` passes / the peer closes (false).
    bool read_until(const std::string& needle, std::chrono::milliseconds timeout);
    // Waits until the peer closes (true) or `timeout` passes (false), keeping what arrives.
    bool wait_closed(std::chrono::milliseconds timeout);
    const std::string& received() const { return received_; }
    // Closes with a reset (SO_LINGER 0), like a client that crashed.
    void reset();

private:
    FD fd_;
    std::string received_;
};

// "GET <target> HTTP/1.1" with a Host header, ready to send.
std::string get_request(const std::string& target);

}  // namespace ct::test
