#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Chat-like traffic for compression figures: JSON messages of 100 B to 2 KiB, the shape chat applications send
/// (a type, a room, a sender, an id, a timestamp, a text of common words), sizes log-uniform so that short
/// messages dominate as they do in chat. Deterministic: the same seed gives the same messages, so a figure can
/// be reproduced, and a peer written in another language can generate the same corpus from this description.
package enum ChatCorpus {
    /// `count` messages from `seed`.
    package static func messages(count: Int, seed: UInt64 = 1) -> [[UInt8]] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { i in message(index: i, random: &random) }
    }

    static func message(index: Int, random: inout SplitMix64) -> [UInt8] {
        // log-uniform in 100…2048: exp(uniform(ln 100, ln 2048)).
        let target = Int(exp(4.605170 + Double(random.next() % 10_000) / 10_000 * (7.624619 - 4.605170)))
        let user = Int(random.next() % 50)
        let room = rooms[Int(random.next() % UInt64(rooms.count))]
        var text = ""
        let head = #"{"type":"message","room":"\#(room)","from":{"id":"u-\#(10_000 + user)","name":"\#(names[user % names.count])"},"#
            + #""id":"m-\#(1_000_000 + index)","ts":\#(1_764_000_000_000 + index * 1_731),"text":""#
        let tail = #""}"#
        while head.utf8.count + text.utf8.count + tail.utf8.count < target {
            if !text.isEmpty { text += " " }
            text += words[Int(random.next() % UInt64(words.count))]
        }
        return Array((head + text + tail).utf8)
    }

    static let rooms = ["general", "random", "engineering", "support", "design", "ops", "sales", "announcements"]
    static let names = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
                        "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Zoe"]
    static let words = """
        the of and to a in is it you that he was for on are with as I his they be at one have this from or had by hot
        word but what some we can out other were all there when up use your how said an each she which do their time
        if will way about many then them write would like so these her long make thing see him two has look more day
        could go come did number sound no most people my over know water than call first who may down side been now
        find any new work part take get place made live where after back little only round man year came show every
        good me give our under name very through just form sentence great think say help low line differ turn cause
        much mean before move right boy old too same tell does set three want air well also play small end put home
        read hand port large spell add even land here must big high such follow act why ask men change went light
        kind off need house picture try us again animal point mother world near build self earth father deploy merge
        build test review ticket meeting lunch tomorrow today thanks please ok sure yes done ship release fix bug
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator, so the corpus is the same on every machine.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

