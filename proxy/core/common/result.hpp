// The one error type of canaryd's fallible control-side calls (loading, parsing, opening
// files and listeners, TLS contexts): a value or an Error, never both, never an exception.
// The message is written for an operator ("cannot read /etc/canaryd.yaml: Permission
// denied"); `code` keeps errno where the system said no, so a caller can tell "no such file"
// (a state file not written yet) from a real failure. Result<void> is a plain success/failure.
// Config validation is the exception to "one error": it reports every problem with its
// line and column at once (config::LoadResult), because an operator fixes them in one go.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace canaryd {

struct Error {
    std::string message;
    int code = 0;  // errno when the system refused, else 0
};

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit on purpose
    Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

    bool ok() const { return state_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & {
        assert(ok());
        return std::get<0>(state_);
    }
    const T& value() const& {
        assert(ok());
        return std::get<0>(state_);
    }
    T&& value() && {
        assert(ok());
        return std::get<0>(std::move(state_));
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const {
        assert(!ok());
        return std::get<1>(state_);
    }
    const std::string& message() const { return error().message; }

private:
    std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const {
        assert(!ok_);
        return error_;
    }
    const std::string& message() const { return error().message; }

private:
    Error error_;
    bool ok_ = true;
};

using Status = Result<void>;

}  // namespace canaryd
