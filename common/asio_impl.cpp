// The one translation unit that compiles Boost.Asio (with its SSL part) and Boost.Beast. Every
// other file includes their headers under BOOST_ASIO_SEPARATE_COMPILATION and
// BOOST_BEAST_SEPARATE_COMPILATION (PUBLIC definitions of ct_common), so their non-template code
// (the I/O services, Beast's HTTP parser and fields) is compiled once, here, not in every file.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
