pragma solidity ^0.4.24;

contract Refunder {
    address[] private refundAddresses;
    mapping(address => uint256) public refunds;

    function register() public payable {
        refundAddresses.push(msg.sender);
        refunds[msg.sender] = msg.value;
    }

    function refundAll() public {
        for (uint256 x = 0; x < refundAddresses.length; x++) {
            require(refundAddresses[x].send(refunds[refundAddresses[x]]));
        }
    }
}
