pragma solidity ^0.4.24;

contract EtherStore {
    mapping(address => uint256) public balances;

    function deposit() public payable {
        balances[msg.sender] = balances[msg.sender] + msg.value;
    }

    function withdraw(uint256 amount) public {
        require(balances[msg.sender] >= amount);
        require(msg.sender.call.value(amount)());
        balances[msg.sender] = balances[msg.sender] - amount;
    }
}
