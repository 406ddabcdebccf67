pragma solidity ^0.4.21;

contract GuessTheRandomNumber {
    uint8 answer;

    function GuessTheRandomNumber() public payable {
        require(msg.value == 1 ether);
        answer = uint8(keccak256(block.blockhash(block.number - 1), now));
    }

    function guess(uint8 n) public payable {
        require(msg.value == 1 ether);
        if (n == answer) {
            msg.sender.transfer(2 ether);
        }
    }
}
