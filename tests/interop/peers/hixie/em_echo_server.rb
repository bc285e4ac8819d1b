# em_echo_server.rb PORT — em-websocket (Debian ruby-em-websocket 0.5.x) echo server on 127.0.0.1:PORT.
# Accepts hixie-75, hixie-76 (and RFC 6455) clients; echoes every text message back as text.
# Prints "listening" on stdout once the socket is bound; one line per connection event on stderr.
require 'em-websocket'

port = Integer(ARGV.fetch(0) { abort "usage: ruby #{$0} PORT" })
$stdout.sync = true
$stderr.sync = true

EM.run do
  trap('TERM') { EM.stop }
  trap('INT') { EM.stop }
  EM::WebSocket.run(host: '127.0.0.1', port: port) do |ws|
    ws.onopen do |hs|
      $stderr.puts "open version=#{hs.protocol_version} path=#{hs.path} origin=#{hs.origin.inspect}"
    end
    ws.onmessage { |msg| ws.send(msg) }
    ws.onbinary { |msg| ws.send_binary(msg) }
    ws.onclose { |ev| $stderr.puts "close #{ev.inspect}" }
    ws.onerror { |e| $stderr.puts "error #{e.class}: #{e.message}" }
  end
  puts 'listening'
end
