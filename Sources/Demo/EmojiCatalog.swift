/// The emoji the demo votes on.
enum EmojiCatalog {
    static let all: [(shortcode: String, unicode: String)] = [
        (":joy:", "😂"), (":sunglasses:", "😎"), (":doughnut:", "🍩"), (":stuck_out_tongue_winking_eye:", "😜"),
        (":money_mouth_face:", "🤑"), (":flushed:", "😳"), (":mask:", "😷"), (":nerd_face:", "🤓"),
        (":ghost:", "👻"), (":skull_and_crossbones:", "☠️"), (":heart_eyes_cat:", "😻"), (":hear_no_evil:", "🙈"),
        (":see_no_evil:", "🙊"), (":speak_no_evil:", "🙉"), (":boy:", "👦"), (":man_with_gua_pi_mao:", "👲"),
        (":champagne:", "🍾"), (":rocket:", "🚀"), (":pizza:", "🍕"), (":poop:", "💩"),
    ]
}
