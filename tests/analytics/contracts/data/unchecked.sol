pragma solidity ^0.4.18;

contract Lotto {
    bool public payedOut = false;
    address public winner;
    uint256 public winAmount;

    function sendToWinner() public {
        require(!payedOut);
        winner.send(winAmount);
        payedOut = true;
    }

    function forward(address target, bytes data) public {
        target.call.value(msg.value)(data);
    }
}
