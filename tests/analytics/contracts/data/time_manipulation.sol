pragma solidity ^0.4.25;

contract Roulette {
    uint256 public pastBlockTime;

    function spin() external payable {
        require(msg.value == 10 ether);
        require(now != pastBlockTime);
        pastBlockTime = now;
        if (now % 15 == 0) {
            msg.sender.transfer(address(this).balance);
        }
    }
}
