import XCTest
import Evaluation

/// `captionTokens` against PTBTokenizer's conventions (-lowerCase, then pycocoevalcap's punctuation filter),
/// written out by hand: the Java tokenizer is not run here.
final class CaptionTokensTests: XCTestCase {
    func testPunctuationIsSplitOffAndDropped() {
        XCTAssertEqual(captionTokens("A person walks forward, then turns around."), "a person walks forward then turns around")
        XCTAssertEqual(captionTokens("Someone jumps; lands!  Walks?"), "someone jumps lands walks")
        XCTAssertEqual(captionTokens("he walks - then -- stops: done"), "he walks then stops done")
        XCTAssertEqual(captionTokens("He can't sit... so he stands"), "he ca n't sit so he stands")
        XCTAssertEqual(captionTokens("walks...then stops"), "walks then stops")
        XCTAssertEqual(captionTokens("!!!"), "")
        XCTAssertEqual(captionTokens(""), "")
        XCTAssertEqual(captionTokens("walks\nforward\r\nslowly"), "walks forward slowly")
    }

    func testCliticsAreSplitAsPTBDoes() {
        XCTAssertEqual(captionTokens("The man doesn't stop; he's running"), "the man does n't stop he 's running")
        XCTAssertEqual(captionTokens("the person's arm, they're I'm we've you'll she'd"),
                       "the person 's arm they 're i 'm we 've you 'll she 'd")
        XCTAssertEqual(captionTokens("a person cannot stop, gonna fall"), "a person can not stop gon na fall")
        XCTAssertEqual(captionTokens("It’s the dancer’s move"), "it 's the dancer 's move")
    }

    func testQuotesAreDropped() {
        XCTAssertEqual(captionTokens("a \"quoted\" and 'single' word"), "a quoted and single word")
        XCTAssertEqual(captionTokens("“Jump” — she said"), "jump she said")
        XCTAssertEqual(captionTokens("the players' arms"), "the players arms")
        XCTAssertEqual(captionTokens("`tick' mark"), "tick mark")
    }

    /// PTBTokenizer writes brackets as -LRB- etc.; -lowerCase turns them into -lrb- before pycocoevalcap
    /// compares them with its upper-case list, so they stay.
    func testBracketsStayAsLowerCasedPTBTokens() {
        XCTAssertEqual(captionTokens("Someone (slowly) waves"), "someone -lrb- slowly -rrb- waves")
        XCTAssertEqual(captionTokens("jumps [twice] {x}"), "jumps -lsb- twice -rsb- -lcb- x -rcb-")
    }

    func testWordsThatKeepTheirPunctuation() {
        XCTAssertEqual(captionTokens("walks 2.5 m, i.e. 1,000 mm at 10:30"), "walks 2.5 m i.e. 1,000 mm at 10:30")
        XCTAssertEqual(captionTokens("Mr. Smith waves his left-hand, etc."), "mr. smith waves his left-hand etc.")
        XCTAssertEqual(captionTokens("50% of the time, $5"), "50 % of the time $ 5")
        XCTAssertEqual(captionTokens("walks 3 m."), "walks 3 m")
    }

    /// Tokenising what is already tokenised changes nothing (HumanML3D's texts are close to this form).
    func testTokenisedTextIsAFixedPoint() {
        for c in Fixtures.corpus("motion_captions").references.joined() { XCTAssertEqual(captionTokens(c), c) }
        XCTAssertEqual(captionTokens("the person 's left hand waves"), "the person 's left hand waves")
    }
}
