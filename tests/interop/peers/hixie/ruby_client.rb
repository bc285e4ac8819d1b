# ruby_client.rb URL VERSION [ORIGIN [PROTOCOL]] — a hixie-75 / hixie-76 WebSocket client built on the
# Debian `websocket` gem (ruby-websocket 1.2.x) over a plain TCPSocket (ws:// only).
#
#   VERSION   75 or 76
#   ORIGIN    value of the Origin header; omitted (or "-") = no Origin header at all
#   PROTOCOL  optional subprotocol, sent as WebSocket-Protocol (75) or as both WebSocket-Protocol and
#             Sec-WebSocket-Protocol (76); the gem then insists that the server echoes it (75:
#             WebSocket-Protocol, 76: Sec-WebSocket-Protocol)
#
# Extra request headers (Authorization, Cookie, a Sec-WebSocket-Protocol the gem is not to check): the
# environment variable HIXIE_HEADERS, one "Name: value" per line.
#
# Sends each stdin line (without its line ending) as one text message and prints every text message it
# receives on its own stdout line, flushed. Status goes to stderr: "OPEN" once the handshake is complete,
# "CLOSED <how>" at the end.
# After stdin EOF it waits up to $HIXIE_DRAIN_SECS (default 2) seconds until as many messages have come
# back as it sent, then (76 only) sends the closing frame 0xFF 0x00 and waits up to 1 s for the server's
# 0xFF 0x00 or EOF, closes the socket and exits 0.
# Exit codes: 0 ok (also when the server closes first), 2 handshake refused / invalid / timed out
# (reason on stderr), 3 connection or framing error after the handshake, 64 bad usage.
require 'socket'
require 'uri'
require 'websocket'

$stdout.sync = true
$stderr.sync = true

def die(code, msg)
  $stderr.puts msg
  exit code
end

url, version_arg, origin, protocol = ARGV
die(64, "usage: ruby #{$0} URL 75|76 [ORIGIN [PROTOCOL]]") unless url && %w[75 76].include?(version_arg)
version = Integer(version_arg)
origin = nil if origin == '-' || origin == ''
uri = URI.parse(url)
die(64, "only ws:// URLs are supported, got #{url}") unless uri.scheme == 'ws'

HANDSHAKE_TIMEOUT = Float(ENV.fetch('HIXIE_HANDSHAKE_SECS', '10'))
DRAIN_SECS = Float(ENV.fetch('HIXIE_DRAIN_SECS', '2'))

args = { url: url, version: version }
args[:origin] = origin if origin
if protocol
  args[:protocols] = [protocol]
  # The gem's 76 client sends the subprotocol as the 75-style `WebSocket-Protocol` header only, yet
  # expects `Sec-WebSocket-Protocol` back; add the draft-76 header so a 76 server can see it.
  args[:headers] = { 'Sec-WebSocket-Protocol' => protocol } if version == 76
end
extra = ENV.fetch('HIXIE_HEADERS', '').split("\n").map { |l| l.split(':', 2).map(&:strip) }.select { |kv| kv.size == 2 }
args[:headers] = (args[:headers] || {}).merge(extra.to_h) unless extra.empty?
hs = WebSocket::Handshake::Client.new(**args)
die(64, "cannot build handshake: #{hs.error}") if hs.error

begin
  sock = TCPSocket.new(uri.host, uri.port || 80)
rescue SystemCallError, SocketError => e
  die(2, "handshake failed: cannot connect to #{uri.host}:#{uri.port}: #{e.message}")
end
sock.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
# One write: for 76 the 8-byte key3 follows the blank line directly, as the gem builds it.
sock.write(hs.to_s.b)

# --- handshake -----------------------------------------------------------------------------------
# The gem marks the handshake "finished" as soon as it has seen "\r\n\r\n", and for 76 it compares
# everything after the head with the MD5 answer. A server may (faye does) send the 16-byte answer in
# its own TCP segment, so the head and the 16 bytes are collected here and handed to the gem at once;
# bytes after them are already WebSocket frames.
buf = String.new('', encoding: Encoding::BINARY)
deadline = Time.now + HANDSHAKE_TIMEOUT
head_len = nil
loop do
  if (i = buf.index("\r\n\r\n"))
    head_len = i + 4
    status_ok = buf[0, buf.index("\r\n")] =~ %r{\AHTTP/1\.1 101[ \r]}
    break if version == 75 || !status_ok || buf.bytesize >= head_len + 16
  end
  left = deadline - Time.now
  if left <= 0
    die(2, "handshake failed: timed out after #{HANDSHAKE_TIMEOUT}s; received #{buf.inspect}")
  end
  next unless IO.select([sock], nil, nil, left)

  begin
    buf << sock.readpartial(65_536)
  rescue EOFError, SystemCallError => e
    why = e.is_a?(EOFError) ? 'connection closed by server' : e.message
    die(2, "handshake failed: #{why} before the handshake completed; received #{buf.inspect}")
  end
end

hs_len = version == 76 ? [head_len + 16, buf.bytesize].min : head_len
hs << buf[0, hs_len]
rest = buf[hs_len..] || ''
unless hs.finished? && hs.valid?
  first = buf[0, buf.index("\r\n") || buf.bytesize]
  die(2, "handshake failed: #{hs.error || 'invalid response'}; status line #{first.inspect}; " \
         "response #{buf.inspect}")
end
$stderr.puts 'OPEN'

# --- messages ------------------------------------------------------------------------------------
incoming = WebSocket::Frame::Incoming::Client.new(version: version)
sent = 0
received = 0
server_closed = nil # nil, :frame (0xFF 0x00) or :eof

# Decode whatever is buffered; print text messages; note a closing frame.
process = lambda do |data|
  incoming << data
  while (frame = incoming.next)
    case frame.type
    when :text
      received += 1
      $stdout.write("#{frame.data}\n")
    when :close
      server_closed ||= :frame
    end
  end
  die(3, "framing error from server: #{incoming.error}") if incoming.error
end

# Read from the socket for at most `timeout` seconds; returns false on timeout, true on data/EOF.
read_sock = lambda do |timeout|
  return false unless IO.select([sock], nil, nil, timeout)

  begin
    process.call(sock.readpartial(65_536))
  rescue EOFError, Errno::ECONNRESET
    server_closed ||= :eof
  end
  true
end

send_frame = lambda do |type, data = ''|
  frame = WebSocket::Frame::Outgoing::Client.new(version: version, data: data, type: type)
  sock.write(frame.to_s.b)
rescue SystemCallError, IOError => e
  die(3, "write failed: #{e.message}") unless type == :close # a closing frame is best effort
end

process.call(rest) unless rest.empty?
stdin_buf = String.new('', encoding: Encoding::BINARY)
stdin_open = true
while stdin_open && !server_closed
  ready, = IO.select([sock, $stdin])
  read_sock.call(0) if ready.include?(sock)
  next unless ready.include?($stdin)

  begin
    stdin_buf << $stdin.readpartial(65_536).b
  rescue EOFError
    stdin_open = false
    stdin_buf << "\n" unless stdin_buf.empty? # a last line without a newline still counts
  end
  while (nl = stdin_buf.index("\n"))
    line = stdin_buf.slice!(0, nl + 1).chomp
    send_frame.call(:text, line.force_encoding(Encoding::UTF_8))
    sent += 1
  end
end

if server_closed
  # The server closed first: answer its closing frame (76) and go.
  send_frame.call(:close) if server_closed == :frame && version == 76
  sock.close
  $stderr.puts(server_closed == :frame ? 'CLOSED by server (0xFF 0x00)' : 'CLOSED by server (EOF)')
  exit 0
end

# stdin EOF: wait for the replies still outstanding.
deadline = Time.now + DRAIN_SECS
while received < sent && !server_closed && (left = deadline - Time.now) > 0
  read_sock.call(left)
end
$stderr.puts "missing #{sent - received} of #{sent} replies#{server_closed ? '' : " after #{DRAIN_SECS}s"}" if received < sent

how = if server_closed
        # the server went away while replies were outstanding
        send_frame.call(:close) if server_closed == :frame && version == 76
        server_closed == :frame ? 'by server (0xFF 0x00) while waiting for replies' :
                                  'by server (EOF) while waiting for replies'
      else
        'by client'
      end
if version == 76 && !server_closed
  send_frame.call(:close)
  deadline = Time.now + 1
  while !server_closed && (left = deadline - Time.now) > 0
    read_sock.call(left)
  end
  how = case server_closed
        when :frame then 'by client, server answered 0xFF 0x00'
        when :eof then 'by client, server closed the connection without 0xFF 0x00'
        else 'by client, no answer from server within 1s'
        end
end
sock.close
$stderr.puts "CLOSED #{how}"
exit 0
