// http::server over TLS: HTTPS round trips, TLS versions, and certificates
// reloaded from files that change (a cert-manager Secret being renewed).
// The certificates are made by the openssl command line for each run.

#include "http/server.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace elector::http {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const config::bind_address loopback_any_port{.host = "127.0.0.1", .port = 0, .enabled = true};

// Longer than the server's interval between two looks at the files.
constexpr auto past_reload_check = 1100ms;

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::string content(static_cast<std::size_t>(fs::file_size(path)), '\0');
    in.read(content.data(), static_cast<std::streamsize>(content.size()));
    return content;
}

void write_text(const fs::path& path, std::string_view content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
}

// As a program replacing a file should: a new file renamed over the old one.
void replace_file(const fs::path& path, const fs::path& source) {
    const fs::path temporary = path.string() + ".tmp";
    fs::copy_file(source, temporary, fs::copy_options::overwrite_existing);
    fs::rename(temporary, path);
}

// A Secret volume as the kubelet writes it: dir/tls.crt -> ..data/tls.crt,
// ..data -> ..VERSION, and an update swaps the ..data symlink atomically.
void publish_secret(const fs::path& dir, const std::string& version, const fs::path& cert, const fs::path& key) {
    const fs::path version_dir = dir / (".." + version);
    fs::create_directories(version_dir);
    fs::copy_file(cert, version_dir / "tls.crt");
    fs::copy_file(key, version_dir / "tls.key");
    fs::create_directory_symlink(".." + version, dir / "..data_tmp");
    fs::rename(dir / "..data_tmp", dir / "..data");
    if (!fs::is_symlink(dir / "tls.crt")) fs::create_symlink("..data/tls.crt", dir / "tls.crt");
    if (!fs::is_symlink(dir / "tls.key")) fs::create_symlink("..data/tls.key", dir / "tls.key");
}

// What a TLS client saw of the server.
struct handshake_result {
    bool ok = false;
    std::string error;  // OpenSSL's reason when !ok
    std::string subject_cn;
    std::string serial;  // hex: "A1"
    int version = 0;     // TLS1_2_VERSION, TLS1_3_VERSION
};

// One handshake with OpenSSL directly, verifying the server's certificate
// against `ca` and the IP 127.0.0.1. max_version != 0 limits the versions the
// client offers (it then allows every old version OpenSSL has).
handshake_result handshake(std::uint16_t port, const fs::path& ca, int max_version = 0) {
    handshake_result result;
    const std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
    if (!ctx) throw std::runtime_error("SSL_CTX_new failed");
    if (max_version != 0) {
        // OpenSSL 3 refuses TLS 1.1 and older above security level 0.
        SSL_CTX_set_security_level(ctx.get(), 0);
        SSL_CTX_set_cipher_list(ctx.get(), "DEFAULT:@SECLEVEL=0");
        SSL_CTX_set_min_proto_version(ctx.get(), TLS1_VERSION);
        SSL_CTX_set_max_proto_version(ctx.get(), max_version);
    }
    if (SSL_CTX_load_verify_locations(ctx.get(), ca.c_str(), nullptr) != 1) {
        throw std::runtime_error("cannot load " + ca.string());
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);

    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket() failed");
    timeval timeout{.tv_sec = 2, .tv_usec = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        result.error = "connect failed";
        return result;
    }

    const std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), "127.0.0.1");
    SSL_set_fd(ssl.get(), fd);
    ERR_clear_error();
    if (SSL_connect(ssl.get()) != 1) {
        const unsigned long code = ERR_peek_last_error();
        const char* why = code == 0 ? nullptr : ERR_reason_error_string(code);
        result.error = why == nullptr ? "handshake failed" : why;
        if (const long verify = SSL_get_verify_result(ssl.get()); verify != X509_V_OK) {
            result.error += std::string{": "} + X509_verify_cert_error_string(verify);
        }
        ERR_clear_error();
        ::close(fd);
        return result;
    }
    result.ok = true;
    result.version = SSL_version(ssl.get());
    if (X509* peer = SSL_get1_peer_certificate(ssl.get())) {
        char name[256] = {};
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, name, sizeof name) > 0) {
            result.subject_cn = name;
        }
        if (BIGNUM* number = ASN1_INTEGER_to_BN(X509_get0_serialNumber(peer), nullptr)) {
            if (char* hex = BN_bn2hex(number)) {
                result.serial = hex;
                OPENSSL_free(hex);
            }
            BN_free(number);
        }
        X509_free(peer);
    }
    SSL_shutdown(ssl.get());
    ::close(fd);
    return result;
}

httplib::Client https_client(std::uint16_t port, const fs::path& ca) {
    httplib::Client c("https://127.0.0.1:" + std::to_string(port));
    c.set_ca_cert_path(ca.c_str());
    c.enable_server_certificate_verification(true);
    c.set_connection_timeout(2s);
    c.set_read_timeout(2s);
    c.set_write_timeout(2s);
    return c;
}

response text(std::string body) { return {.status = 200, .content_type = "text/plain", .body = std::move(body)}; }

// The messages logged while it exists (the default logger's, at info).
class log_capture {
public:
    log_capture() : sink_(std::make_shared<sink>()), previous_(spdlog::default_logger()) {
        auto logger = std::make_shared<spdlog::logger>("capture", sink_);
        logger->set_level(spdlog::level::info);
        spdlog::set_default_logger(std::move(logger));
    }
    ~log_capture() { spdlog::set_default_logger(previous_); }
    log_capture(const log_capture&) = delete;
    log_capture& operator=(const log_capture&) = delete;

    // How many messages contain `text`.
    [[nodiscard]] int count(std::string_view text) const { return sink_->count(text); }

private:
    class sink final : public spdlog::sinks::base_sink<std::mutex> {
    public:
        int count(std::string_view text) {
            std::lock_guard lock(mutex_);
            int n = 0;
            for (const auto& line : lines_) n += line.find(text) != std::string::npos ? 1 : 0;
            return n;
        }

    protected:
        void sink_it_(const spdlog::details::log_msg& msg) override {
            lines_.emplace_back(msg.payload.data(), msg.payload.size());
        }
        void flush_() override {}

    private:
        std::vector<std::string> lines_;
    };

    std::shared_ptr<sink> sink_;
    std::shared_ptr<spdlog::logger> previous_;
};

// A CA, two server certificates it signed (A and B: "server a" serial A1,
// "server b" serial B2), and a third ("server c", C3) signed by an
// intermediate CA, with its chain file. All for 127.0.0.1 and localhost.
class http_tls : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        std::string pattern = (fs::temp_directory_path() / "elector-tls-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            setup_error_ = "mkdtemp failed";
            return;
        }
        pki_ = pattern;
        const std::string script = R"(set -e
new_key() { openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt \
  -subj "/CN=elector test CA" -days 2 -set_serial 1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' > server.ext
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' > ca.ext
sign() { openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -set_serial "$3" -days 2 -extfile "$4" -out "$1.crt"; }
new_key a "server a"; sign a ca 0xA1 server.ext
new_key b "server b"; sign b ca 0xB2 server.ext
new_key inter "elector test intermediate"; sign inter ca 2 ca.ext
new_key c "server c"; sign c inter 0xC3 server.ext
cat c.crt inter.crt > c-chain.crt
openssl pkcs8 -topk8 -in a.key -passout pass:secret -out a-encrypted.key
)";
        write_text(pki_ / "make.sh", script);
        const std::string command = "cd '" + pki_.string() + "' && sh make.sh > make.log 2>&1";
        if (std::system(command.c_str()) != 0) setup_error_ = "openssl failed: " + read_text(pki_ / "make.log");
    }

    static void TearDownTestSuite() {
        std::error_code ignored;
        if (!pki_.empty()) fs::remove_all(pki_, ignored);
    }

    void SetUp() override {
        ASSERT_TRUE(setup_error_.empty()) << setup_error_;
        dir_ = pki_ / ::testing::UnitTest::GetInstance()->current_test_info()->name();
        fs::create_directories(dir_);
    }

    static fs::path pki(const std::string& name) { return pki_ / name; }

    // dir_/tls.crt and dir_/tls.key, copied from a pair ("a", "b", "c-chain"/"c").
    tls_files install(const std::string& cert, const std::string& key) const {
        fs::copy_file(pki(cert + ".crt"), dir_ / "tls.crt", fs::copy_options::overwrite_existing);
        fs::copy_file(pki(key + ".key"), dir_ / "tls.key", fs::copy_options::overwrite_existing);
        return files();
    }

    tls_files files() const {
        return {.cert_file = (dir_ / "tls.crt").string(), .key_file = (dir_ / "tls.key").string()};
    }

    static inline fs::path pki_;
    static inline std::string setup_error_;
    fs::path dir_;
};

TEST_F(http_tls, HttpsGetAndPostRoundTrip) {
    server s("admission webhook", server_options{.tls = install("a", "a")});
    std::atomic<int> posts{0};
    s.get("/healthz", [](const request& r) { return text("ok " + r.method); });
    s.post("/validate", [&](const request& r) {
        ++posts;
        return response{.status = 200, .content_type = "application/json", .body = r.method + " " + r.body};
    });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    auto c = https_client(*port, pki("ca.crt"));
    c.set_keep_alive(true);
    auto r = c.Get("/healthz");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ok GET");
    for (int i = 0; i < 3; ++i) {
        r = c.Post("/validate", R"({"request":{"uid":"1"}})", "application/json");
        ASSERT_TRUE(r) << httplib::to_string(r.error());
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, R"(POST {"request":{"uid":"1"}})");
        EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    }
    EXPECT_EQ(posts, 3);

    // The client really verifies: trusting another CA, the handshake fails.
    auto distrustful = https_client(*port, pki("inter.crt"));
    r = distrustful.Get("/healthz");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), httplib::Error::SSLServerVerification);

    // Plain HTTP to the TLS port gets nothing served.
    httplib::Client plain("127.0.0.1", *port);
    plain.set_read_timeout(2s);
    EXPECT_FALSE(plain.Get("/healthz"));

    const auto seen = handshake(*port, pki("ca.crt"));
    ASSERT_TRUE(seen.ok) << seen.error;
    EXPECT_EQ(seen.subject_cn, "server a");
    EXPECT_EQ(seen.serial, "A1");
    EXPECT_EQ(seen.version, TLS1_3_VERSION);
}

TEST_F(http_tls, PostOverTheLimitIs413AndWrongMethodsAre405) {
    server s("admission webhook", server_options{.max_body_bytes = 1024, .tls = install("a", "a")});
    std::atomic<int> calls{0};
    s.get("/healthz", [&](const request&) {
        ++calls;
        return text("ok");
    });
    s.post("/validate", [&](const request& r) {
        ++calls;
        return text(std::to_string(r.body.size()));
    });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    auto c = https_client(*port, pki("ca.crt"));
    auto r = c.Post("/validate", std::string(1024, 'x'), "application/json");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "1024");
    EXPECT_EQ(calls, 1);

    r = https_client(*port, pki("ca.crt")).Post("/validate", std::string(1025, 'x'), "application/json");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->body, R"({"error":"request body larger than 1024 bytes"})");
    EXPECT_EQ(calls, 1);

    // Chunked, so that the limit is met while reading.
    std::size_t sent = 0;
    r = https_client(*port, pki("ca.crt"))
            .Post(
                "/validate",
                [&](std::size_t, httplib::DataSink& sink) {
                    sink.write(std::string(512, 'y').data(), 512);
                    sent += 512;
                    if (sent == 4096) sink.done();
                    return true;
                },
                "application/json");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(calls, 1);

    r = https_client(*port, pki("ca.crt")).Post("/healthz", "{}", "application/json");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD");
    r = https_client(*port, pki("ca.crt")).Get("/validate");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(r->get_header_value("Allow"), "POST");
    EXPECT_EQ(calls, 1);
}

TEST_F(http_tls, Tls11IsRefusedTls12AndTls13Accepted) {
    server s("admission webhook", server_options{.tls = install("a", "a")});
    s.get("/healthz", [](const request&) { return text("ok"); });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    const auto old = handshake(*port, pki("ca.crt"), TLS1_1_VERSION);
    EXPECT_FALSE(old.ok);
    // The server's alert, not the client refusing to offer TLS 1.1.
    EXPECT_EQ(old.error, "tlsv1 alert protocol version");

    const auto tls12 = handshake(*port, pki("ca.crt"), TLS1_2_VERSION);  // the same client otherwise
    ASSERT_TRUE(tls12.ok) << tls12.error;
    EXPECT_EQ(tls12.version, TLS1_2_VERSION);
    EXPECT_EQ(tls12.subject_cn, "server a");

    const auto tls13 = handshake(*port, pki("ca.crt"));
    ASSERT_TRUE(tls13.ok) << tls13.error;
    EXPECT_EQ(tls13.version, TLS1_3_VERSION);
}

TEST_F(http_tls, ServesTheIntermediateCertificatesOfTheChainFile) {
    server s("admission webhook", server_options{.tls = install("c-chain", "c")});
    s.get("/healthz", [](const request&) { return text("ok"); });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();

    // The client trusts the root only: it needs the intermediate from the server.
    const auto seen = handshake(*port, pki("ca.crt"));
    ASSERT_TRUE(seen.ok) << seen.error;
    EXPECT_EQ(seen.subject_cn, "server c");
    auto r = https_client(*port, pki("ca.crt")).Get("/healthz");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->body, "ok");
}

TEST_F(http_tls, ANewPairInASecretVolumeIsServedToNewConnections) {
    publish_secret(dir_, "2026_01_01_a", pki("a.crt"), pki("a.key"));
    log_capture logs;
    server s("admission webhook", server_options{.tls = files()});
    s.get("/healthz", [](const request&) { return text("ok"); });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();
    auto before = handshake(*port, pki("ca.crt"));
    ASSERT_TRUE(before.ok) << before.error;
    EXPECT_EQ(before.serial, "A1");

    // The kubelet updates the Secret: new files, one symlink swap.
    publish_secret(dir_, "2026_02_01_b", pki("b.crt"), pki("b.key"));
    std::this_thread::sleep_for(past_reload_check);

    // Handshakes at once, on several worker threads, while the pair changes:
    // every one gets a whole pair, old or new.
    std::vector<handshake_result> results(4);
    {
        std::vector<std::jthread> clients;
        for (auto& result : results) {
            clients.emplace_back([&result, p = *port] { result = handshake(p, pki("ca.crt")); });
        }
    }
    for (const auto& result : results) {
        ASSERT_TRUE(result.ok) << result.error;
        EXPECT_TRUE(result.serial == "A1" || result.serial == "B2") << result.serial;
    }
    const auto after = handshake(*port, pki("ca.crt"));
    ASSERT_TRUE(after.ok) << after.error;
    EXPECT_EQ(after.serial, "B2");
    EXPECT_EQ(after.subject_cn, "server b");
    auto r = https_client(*port, pki("ca.crt")).Get("/healthz");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(logs.count("reloaded the TLS certificate"), 1);
}

TEST_F(http_tls, AHalfWrittenPairKeepsThePreviousOneUntilFixed) {
    const tls_files paths = install("a", "a");
    log_capture logs;
    server s("admission webhook", server_options{.tls = paths});
    s.get("/healthz", [](const request&) { return text("ok"); });
    auto port = s.start(loopback_any_port);
    ASSERT_TRUE(port) << port.error();
    EXPECT_EQ(handshake(*port, pki("ca.crt")).serial, "A1");

    // Mid-rotation: the new certificate is there, the key is garbage.
    replace_file(paths.cert_file, pki("b.crt"));
    write_text(paths.key_file, "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n");
    std::this_thread::sleep_for(past_reload_check);
    auto during = handshake(*port, pki("ca.crt"));
    ASSERT_TRUE(during.ok) << during.error;
    EXPECT_EQ(during.serial, "A1");
    EXPECT_EQ(logs.count("cannot reload the TLS certificate"), 1);

    // Unchanged files are not reloaded again, nor reported again.
    std::this_thread::sleep_for(past_reload_check);
    during = handshake(*port, pki("ca.crt"));
    ASSERT_TRUE(during.ok) << during.error;
    EXPECT_EQ(during.serial, "A1");
    EXPECT_EQ(logs.count("cannot reload the TLS certificate"), 1);

    // The key arrives.
    replace_file(paths.key_file, pki("b.key"));
    std::this_thread::sleep_for(past_reload_check);
    const auto after = handshake(*port, pki("ca.crt"));
    ASSERT_TRUE(after.ok) << after.error;
    EXPECT_EQ(after.serial, "B2");
    EXPECT_EQ(logs.count("reloaded the TLS certificate"), 1);
    EXPECT_EQ(logs.count("cannot reload the TLS certificate"), 1);
}

TEST_F(http_tls, StartFailsClearlyWithoutAUsablePair) {
    const std::string cert = (dir_ / "tls.crt").string();
    const std::string key = (dir_ / "tls.key").string();
    server s("admission webhook", server_options{.tls = files()});
    s.get("/healthz", [](const request&) { return text("ok"); });

    auto result = s.start(loopback_any_port);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), "cannot load the TLS certificate " + cert + ": No such file or directory");
    EXPECT_EQ(s.port(), 0);

    fs::copy_file(pki("a.crt"), cert);
    result = s.start(loopback_any_port);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), "cannot load the TLS key " + key + ": No such file or directory");

    fs::copy_file(pki("b.key"), key);
    result = s.start(loopback_any_port);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), "cannot load the TLS key " + key + ": the key does not match the certificate " + cert);

    write_text(key, "not a key\n");
    result = s.start(loopback_any_port);
    ASSERT_FALSE(result);
    EXPECT_TRUE(result.error().starts_with("cannot load the TLS key " + key + ": ")) << result.error();

    // Never a passphrase prompt.
    fs::copy_file(pki("a-encrypted.key"), key, fs::copy_options::overwrite_existing);
    result = s.start(loopback_any_port);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(),
              "cannot load the TLS key " + key + ": the key is encrypted (a passphrase is not supported)");

    write_text(cert, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
    result = s.start(loopback_any_port);
    ASSERT_FALSE(result);
    EXPECT_TRUE(result.error().starts_with("cannot load the TLS certificate " + cert + ": ")) << result.error();

    // Fixed: the same server starts.
    install("a", "a");
    result = s.start(loopback_any_port);
    ASSERT_TRUE(result) << result.error();
    const auto seen = handshake(*result, pki("ca.crt"));
    ASSERT_TRUE(seen.ok) << seen.error;
    EXPECT_EQ(seen.serial, "A1");
}

}  // namespace
}  // namespace elector::http
