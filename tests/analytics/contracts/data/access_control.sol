pragma solidity ^0.4.24;

contract Wallet {
    address public owner;

    constructor() public {
        owner = msg.sender;
    }

    function changeOwner(address newOwner) public {
        owner = newOwner;
    }

    function withdrawAll(address to) public {
        require(tx.origin == owner);
        to.transfer(address(this).balance);
    }

    function destroy() public {
        selfdestruct(msg.sender);
    }
}
