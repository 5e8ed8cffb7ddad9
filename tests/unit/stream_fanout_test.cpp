// StreamFanout (common/stream_fanout.h): the shared, bounded log every live-stream reader of both
// programs takes from. Pure logic, plus one test with real threads (producer and readers) for TSan.
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/stream_fanout.h"

using ct::StreamFanout;
using ct::http::StreamPiece;

namespace {

std::string joined(const std::vector<StreamPiece>& pieces) {
    std::string out;
    for (const auto& p : pieces) out += *p;
    return out;
}

// Takes everything there is now; false once the stream ended.
bool take_all(ct::http::ChunkStream& s, std::string& out) {
    std::vector<StreamPiece> pieces;
    bool more = s.take(pieces);
    out += joined(pieces);
    return more;
}

std::string trailer(const ct::http::ChunkStream& s, const std::string& name) {
    for (const auto& [n, v] : s.trailers())
        if (n == name) return v;
    return "";
}

}  // namespace

TEST_CASE("a fanout reader gets what was pushed after it joined, in order, then ends with its trailer", "[unit][stream]") {
    auto fanout = StreamFanout::create({});
    fanout->push("before\n", 1);  // nobody listening: not kept
    auto reader = fanout->add_reader();
    reader->start([] {});
    fanout->push("a\n", 1);
    fanout->push("b\nc\n", 2);
    std::string got;
    CHECK(take_all(*reader, got));
    CHECK(got == "a\nb\nc\n");
    CHECK(take_all(*reader, got));  // nothing new: still going
    CHECK(got == "a\nb\nc\n");
    fanout->push("d\n", 1);
    fanout->end(5);
    CHECK(take_all(*reader, got));  // the rest first ...
    CHECK(got == "a\nb\nc\nd\n");
    CHECK_FALSE(take_all(*reader, got));  // ... then the end
    CHECK(trailer(*reader, ct::kDroppedTrailer) == "5");  // the source's drops count for every reader
    CHECK(fanout->sent() == 4);
    CHECK(fanout->dropped() == 0);
    reader->close();
}

TEST_CASE("a reader more than the log behind loses the oldest pieces, counted as its own; others lose nothing",
          "[unit][stream]") {
    auto counts = std::make_shared<ct::StreamCounts>();
    auto fanout = StreamFanout::create({.log_bytes = 100, .count_into = {counts}});
    auto slow = fanout->add_reader(), fast = fanout->add_reader();
    slow->start([] {});
    fast->start([] {});
    std::string fast_got, slow_got;
    for (int i = 0; i < 10; ++i) {
        fanout->push(std::string(39, char('0' + i)) + "\n", 2);  // 40 bytes, 2 "events"
        CHECK(take_all(*fast, fast_got));
    }
    CHECK(fast_got.size() == 400);
    // 100 bytes hold two pieces: the slow reader kept the last two of ten.
    CHECK(take_all(*slow, slow_got));
    CHECK(slow_got == std::string(39, '8') + "\n" + std::string(39, '9') + "\n");
    fanout->end();
    CHECK_FALSE(take_all(*slow, slow_got));
    CHECK(trailer(*slow, ct::kDroppedTrailer) == "16");
    CHECK(trailer(*fast, ct::kDroppedTrailer) == "0");
    CHECK(fanout->dropped() == 16);
    CHECK(fanout->sent() == 20 + 4);
    CHECK(counts->dropped == 16);
    CHECK(counts->sent == 24);
}

TEST_CASE("max_take bounds one take but always hands out at least one piece", "[unit][stream]") {
    auto fanout = StreamFanout::create({.max_take = 10});
    auto reader = fanout->add_reader();
    reader->start([] {});
    fanout->push(std::string(25, 'x'), 1);
    fanout->push("abc", 1);
    fanout->push("def", 1);
    std::vector<StreamPiece> pieces;
    CHECK(reader->take(pieces));
    CHECK(pieces.size() == 1);  // larger than max_take alone
    pieces.clear();
    CHECK(reader->take(pieces));
    CHECK(joined(pieces) == "abcdef");
}

TEST_CASE("wake comes after a take that found nothing, once per push, never after close", "[unit][stream]") {
    auto fanout = StreamFanout::create({});
    auto reader = fanout->add_reader();
    int wakes = 0;
    reader->start([&] { ++wakes; });
    fanout->push("a\n", 1);
    CHECK(wakes == 0);  // it has not waited yet
    std::string got;
    take_all(*reader, got);
    take_all(*reader, got);  // nothing: now it waits
    fanout->push("b\n", 1);
    fanout->push("c\n", 1);
    CHECK(wakes == 1);  // one wake until it takes again
    take_all(*reader, got);
    take_all(*reader, got);
    fanout->end();
    CHECK(wakes == 2);  // the end wakes too
    reader->close();
    fanout->push("d\n", 1);
    CHECK(wakes == 2);
}

TEST_CASE("the last reader leaving calls on_last_reader and frees the log", "[unit][stream]") {
    int last = 0;
    auto fanout = StreamFanout::create({.on_last_reader = [&] { ++last; }});
    auto a = fanout->add_reader(), b = fanout->add_reader();
    fanout->push("x\n", 1);
    a->close();
    CHECK(last == 0);
    CHECK(fanout->readers() == 1);
    b.reset();  // destroying a stream closes it
    CHECK(last == 1);
    CHECK(fanout->readers() == 0);
    auto c = fanout->add_reader();  // joins from now on: the old piece is gone
    c->start([] {});
    std::string got;
    take_all(*c, got);
    CHECK(got.empty());
}

TEST_CASE("StreamFanout under a concurrent producer and readers: received + dropped = pushed for each reader",
          "[unit][stream][threads]") {
    constexpr int kPieces = 20000, kReaders = 4;
    auto fanout = StreamFanout::create({.log_bytes = 4096});
    struct ReaderState {
        std::shared_ptr<ct::http::ChunkStream> stream;
        std::mutex mu;
        std::condition_variable cv;
        bool woken = false;
        std::uint64_t received = 0;
    };
    std::vector<std::unique_ptr<ReaderState>> readers;
    for (int i = 0; i < kReaders; ++i) {
        auto r = std::make_unique<ReaderState>();
        r->stream = fanout->add_reader();
        r->stream->start([s = r.get()] {
            std::lock_guard lock(s->mu);
            s->woken = true;
            s->cv.notify_one();
        });
        readers.push_back(std::move(r));
    }
    std::vector<std::thread> threads;
    for (int i = 0; i < kReaders; ++i) {
        threads.emplace_back([&r = *readers[i], slow = i == 0] {
            std::vector<StreamPiece> pieces;
            for (;;) {
                pieces.clear();
                {
                    std::lock_guard lock(r.mu);
                    r.woken = false;
                }
                bool more = r.stream->take(pieces);
                for (const auto& p : pieces) r.received += static_cast<std::uint64_t>(std::count(p->begin(), p->end(), '\n'));
                if (!more) return;
                if (slow) std::this_thread::sleep_for(std::chrono::microseconds(50));
                if (!pieces.empty()) continue;
                std::unique_lock lock(r.mu);
                r.cv.wait(lock, [&] { return r.woken; });
            }
        });
    }
    for (int i = 0; i < kPieces; ++i) fanout->push("line one\nline two\n", 2);
    fanout->end();
    for (auto& t : threads) t.join();
    std::uint64_t dropped_total = 0;
    for (auto& r : readers) {
        auto dropped = std::stoull(trailer(*r->stream, ct::kDroppedTrailer));
        CHECK(r->received + dropped == 2u * kPieces);
        dropped_total += dropped;
        r->stream->close();
    }
    CHECK(fanout->dropped() == dropped_total);
    CHECK(fanout->sent() + fanout->dropped() == std::uint64_t{kReaders} * 2u * kPieces);
}
